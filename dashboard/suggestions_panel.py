"""Suggested replies in the composer: the top three (careline/services/suggestions.py), each with the
past mention it answered; "Use this" puts the text in the reply box for a person to edit. Nothing is
sent from here."""
from __future__ import annotations

import streamlit as st

from careline.models import Mention
from careline.services import suggestions
from dashboard.components import clean, db, one_line


def _use(key: str, text: str) -> None:
    st.session_state[key] = text


def show(m: Mention, values: dict[str, str], key: str, allowed: bool) -> None:
    with db() as session:
        found = suggestions.suggest(session, m, values)
    if not found:
        return
    with st.expander("Suggested replies", expanded=True):
        st.caption("The team's templates and replies it sent to the most similar past mentions of this brand. "
                   "'Use this' fills the box below: edit it, then queue it yourself.")
        for n, s in enumerate(found):
            with st.container(border=True):
                what = f"Template “{s.template}”" if s.template else "Sent before"
                similar = f" · {s.score:.0%} similar past mention" if s.past_mention_id else ""
                used = f" · used {s.times_used}× for similar mentions" if s.times_used > 1 else ""
                st.text(f"{what}{similar}{used}")
                st.text(clean(s.text, 600))
                if s.past_mention_text:
                    st.text("Answered: “" + one_line(s.past_mention_text, 240) + "”")
                st.button("Use this", key=f"sugg_{m.id}_{n}", on_click=_use, args=(key, s.text), disabled=not allowed)
