"""Outbox: every reply by state (queued, sending, sent, failed, unknown) with its link or error, and the way
to resolve an `unknown` one: mark it sent with the link you found, or retry it with the same idempotency key.
The same service functions as `careline outbox --mark-sent/--retry` (careline/services/replies.py).
"""
from __future__ import annotations

import streamlit as st

from careline.services import outbox, replies
from dashboard.components import (
    act,
    can,
    clean,
    db,
    live_user,
    md_escape,
    one_line,
    require_user,
    safe_url,
    settings,
    when,
)

STATES = ["queued", "sending", "sent", "failed", "unknown", "cancelled"]

user = require_user()
st.title("Outbox")
st.text("Replies on their way to the platforms. 'unknown' means the platform may have posted it: check the "
        "original thread, then mark it sent with its link, or retry it (the same idempotency key, so a platform "
        "that remembers it will not post twice).")

c1, c2 = st.columns([3, 1])
picked = c1.multiselect("State", STATES, default=["queued", "sending", "failed", "unknown"], key="ob_states",
                        help="Empty shows every state.")
limit = c2.selectbox("Show", [50, 200, 1000], key="ob_limit")


@st.fragment(run_every=settings().live_refresh_seconds)
def _outbox(states: list[str], limit: int) -> None:
    if live_user() is None:
        return
    with db() as session:
        rows = replies.list_outbox(session, states=states or None, limit=limit)
    counts = {s: sum(1 for r in rows if r.state == s) for s in STATES}
    st.text(" · ".join(f"{s}: {n}" for s, n in counts.items() if n) or "Nothing in these states.")
    st.dataframe([{"#": r.id, "Mention": r.mention_id, "Platform": r.platform, "State": r.state + (" (dry run)" if r.dry_run else ""),
                   "By": one_line(r.created_by, 40), "Tries": r.attempts, "Created": when(r.created_at),
                   "Text": one_line(r.text, 120), "Link": safe_url(r.url) or "", "What next": one_line(outbox.status_line(r), 200)}
                  for r in rows], hide_index=True, width="stretch",
                 column_config={"Link": st.column_config.LinkColumn("Link")})
    for r in [r for r in rows if r.state in ("unknown", "failed")]:
        _resolve(r)


def _resolve(r: replies.Reply) -> None:
    allowed = can("reply")
    with st.container(border=True):
        st.text(f"Reply #{r.id} to mention #{r.mention_id} on {r.platform} is {r.state} · by {r.created_by}, "
                f"{when(r.created_at)}")
        st.text(clean(r.text, 600))
        if r.error:
            st.error("Reason: " + md_escape(r.error))
        u1, u2, u3 = st.columns([3, 1, 1])
        link = u1.text_input("Link to the reply you found on the platform", key=f"ob_url_{r.id}",
                             placeholder="https://…", disabled=not allowed)
        mark = u2.button("Mark sent", key=f"ob_sent_{r.id}", disabled=not allowed or not safe_url(link),
                         help="You found it posted: record it as sent (nothing is posted).")
        if mark and act("reply", replies.mark_sent, r.id, user["username"], url=link.strip(),
                        success=f"Reply #{r.id} marked sent") is not None:
            st.rerun()
        retry = u3.button("Retry", key=f"ob_retry_{r.id}", disabled=not allowed,
                          help="You checked it was NOT posted: queue it again with the same idempotency key.")
        if retry and act("reply", replies.retry, r.id, user["username"], success=f"Reply #{r.id} queued again") is not None:
            st.rerun()
        if not allowed:
            st.caption("Your role cannot resolve replies.")


_outbox(picked, int(limit))
