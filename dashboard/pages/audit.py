"""Audit: every event a person (or the sender) caused, filterable by person, action, mention and date, and
exportable as CSV. Admins only (app.py hides the page from others; this page checks too)."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from careline.services import audit
from dashboard.components import can, db, end_page, one_line, ref, require_user, settings, when

ANY = "(anyone)"
ANY_ACTION = "(any action)"

user = require_user()
st.title("Audit")
if not can("users"):
    st.warning("Only admins can read the audit trail.")
    end_page()
st.text("Who did what, when: sign-ins and lockouts, triage, replies, settings and user changes.")

with db() as session:
    actors, actions = audit.choices(session)
c1, c2, c3, c4 = st.columns([2, 2, 1, 3])
who = c1.selectbox("Person", [ANY, *actors], key="au_actor")
what = c2.selectbox("Action", [ANY_ACTION, *actions], key="au_action")
mention = c3.number_input("Mention #", min_value=0, value=0, step=1, key="au_mention", help="0 = any mention")
today = datetime.now(settings().zone).date()
picked = c4.date_input("From – to (inclusive)", value=(today - timedelta(days=30), today), key="au_dates")
since = until = None
if isinstance(picked, (tuple, list)) and len(picked) == 2:
    zone = settings().zone
    since = datetime.combine(picked[0], time.min, tzinfo=zone).astimezone(UTC)
    until = datetime.combine(picked[1] + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)

with db() as session:
    events = audit.search(session, actor=None if who == ANY else who, action=None if what == ANY_ACTION else what,
                          mention_id=int(mention) or None, since=since, until=until, limit=10_000)
st.text(f"{len(events):,} event(s)" + (" (the newest 10,000)" if len(events) >= 10_000 else ""))
st.dataframe([{"When": when(e.at), "Who": one_line(e.actor, 60), "Action": e.action,
               "Mention": ref(e.mention_id), "Reply": ref(e.reply_id),
               "Detail": one_line(", ".join(f"{k}={v}" for k, v in (e.detail or {}).items() if v is not None), 300)}
              for e in events[:1000]], hide_index=True, width="stretch")
st.download_button("Download CSV", audit.to_csv(events), file_name=f"careline-audit-{today.isoformat()}.csv",
                   mime="text/csv", key="au_csv", on_click="ignore")
