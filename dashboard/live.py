"""Live pages: redraw when the data changed, show who else is on a mention; glue over services/live.py and
services/presence.py.

A page calls `watch(name, probe)` once per run: it remembers the probe's answer for what was drawn, and a
small fragment asks again every `live_refresh_seconds`. Only a different answer reruns the page, so widget
state (filters, page, the open mention, a reply being typed) stays as it is, and an idle desk costs three
index probes per tick. While the person is in the middle of something that a redraw would disturb (rows
ticked for a bulk action) the page says that updates are waiting instead.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlmodel import Session

from careline.services import live as changes
from careline.services import presence
from careline.services.inbox import InboxFilter
from dashboard.components import db, live_user, md_escape, settings

log = logging.getLogger(__name__)
EVERY = settings().live_refresh_seconds


def watch(name: str, probe: Callable[[Session], Any], *, hold: bool = False) -> None:
    """Rerun the app when `probe` answers differently from when this page was drawn (unless `hold`)."""
    with db() as session:
        st.session_state[f"_live_{name}"] = probe(session)
    _watcher(name, probe, hold)


@st.fragment(run_every=EVERY)
def _watcher(name: str, probe: Callable[[Session], Any], hold: bool) -> None:
    if live_user() is None:  # each tick re-reads the user too: a revoked session ends here, unattended
        return
    with db() as session:
        now = probe(session)
    if now == st.session_state.get(f"_live_{name}"):
        return
    if hold:
        st.caption("New activity: the list updates when you clear the ticked rows.")
        return
    st.session_state[f"_live_{name}"] = now
    st.rerun()  # the whole page, drawn with the same widget state


def _mark_seen() -> None:
    with db() as session:
        st.session_state["inbox_seen_id"] = changes.max_mention_id(session)


def new_banner(flt: InboxFilter) -> int:
    """'N new since you last looked' for these filters; new rows are marked ● in the list until seen."""
    with db() as session:
        if "inbox_seen_id" not in st.session_state:  # first look in this session: everything so far is seen
            st.session_state["inbox_seen_id"] = changes.max_mention_id(session)
        n = changes.new_since(session, flt, st.session_state["inbox_seen_id"])
    if n:
        c1, c2 = st.columns([5, 1])
        c1.info(f"{n:,}{'+' if n >= 1000 else ''} new since you last looked (marked ● in the list).", icon=":material/notifications:")
        c2.button("Mark as seen", key="inbox_mark_seen", on_click=_mark_seen)
    return n


@st.fragment(run_every=EVERY)
def presence_bar(mention_id: int, username: str) -> None:
    """Beat for this person on this mention and show who else has it open (never blocks anything)."""
    if live_user() is None:
        return
    activity = "writing" if (st.session_state.get(f"reply_text_{mention_id}") or "").strip() else "viewing"
    ttl = settings().presence_ttl_seconds
    # A write only when the activity changed or a third of the TTL went by: on SQLite every write takes the
    # database's one write lock, which collectors and the sender need too.
    last = st.session_state.get("_presence_beat")
    due = last is None or last[:2] != (mention_id, activity) or time.monotonic() - last[2] > ttl / 3
    with db() as session:
        if due:
            presence.beat(session, username, mention_id, activity)
            st.session_state["_presence_beat"] = (mention_id, activity, time.monotonic())
        others = presence.here(session, mention_id, ttl, exclude=username)
        if random.random() < 0.05:  # now and then, not on every beat
            presence.sweep(session, ttl)
    if others:
        who = ", ".join(f"{md_escape(h.username, 60)} ({'writing a reply' if h.activity == 'writing' else 'viewing'})"
                        for h in others)
        st.info(f"Also on this mention: {who}", icon=":material/group:")
    else:
        st.caption("Nobody else has this mention open.")


@st.fragment(run_every=EVERY)
def writers_warning(mention_id: int, username: str) -> None:
    """In the composer: warn that a colleague is writing a reply to the same mention right now."""
    if live_user() is None:
        return
    with db() as session:
        writers = [h for h in presence.here(session, mention_id, settings().presence_ttl_seconds, exclude=username)
                   if h.activity == "writing"]
    if writers:
        names = " and ".join(md_escape(h.username, 60) for h in writers)
        st.warning(f"{names} {'is' if len(writers) == 1 else 'are'} writing a reply to this mention right now. "
                   "Check with them before you send, so the customer gets one answer.", icon=":material/edit:")
