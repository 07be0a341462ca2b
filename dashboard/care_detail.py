"""The care parts of a mention's detail: its deadline and escalations, the case's whole conversation,
resolving the case, and recording a reply made outside Careline."""
from __future__ import annotations

from datetime import datetime, time, timezone

import streamlit as st

from careline.models import Mention
from careline.services import cases, escalation, replies, teams
from dashboard.components import act, can, clean, db, one_line, settings, when


def conversation(m: Mention, user: dict[str, str]) -> None:
    """Their posts, our replies, notes, in order: the whole case when the mention is part of one."""
    with db() as session:
        entries = cases.conversation(session, m)
        steps = escalation.fired_steps(session, m.id or 0)
        team = teams.get_team(session, m.team_id) if m.team_id else None
    facts = []
    if team is not None:
        facts.append(f"team {clean(team.name)}")
    if steps:
        facts.append("escalated: " + ", ".join(f"step {s.step + 1} {when(s.fired_at)}" for s in steps))
    if facts:
        st.text(" · ".join(facts))
    posts = sum(1 for e in entries if e.kind == "post")
    title = (f"Conversation: case #{m.case_id}, {posts} post(s) from them" if m.case_id
             else "Conversation (their post, our replies, notes)")
    with st.expander(title, expanded=bool(m.case_id)):
        st.dataframe([{"When": when(e.at), "Who": one_line(e.who, 40),
                       "What": {"post": "their post", "reply": "our reply", "note": "note"}[e.kind],
                       "Text": one_line(e.text, 300), "#": e.mention_id, "Detail": e.detail} for e in entries],
                     hide_index=True, width="stretch")
        if m.case_id and len(entries) > 1 and can("triage"):
            if st.button("Resolve the whole case", key=f"resolve_case_{m.id}"):
                if act("triage", cases.resolve_case, m.id, user["username"],
                       success="Case resolved") is not None:
                    st.rerun()


def external_reply(m: Mention, user: dict[str, str]) -> None:
    """Answered elsewhere (Hacker News, phone, DM): record when, so it counts as the first response."""
    with st.expander("Record a reply made outside Careline"):
        zone = settings().zone
        now = datetime.now(zone)
        with st.form(f"external_{m.id}"):
            c1, c2 = st.columns(2)
            day = c1.date_input("Date", now.date(), key=f"ext_day_{m.id}")
            at = c2.time_input("Time (" + str(zone) + ")", time(now.hour, now.minute), key=f"ext_time_{m.id}")
            url = st.text_input("Link to the reply (optional)", key=f"ext_url_{m.id}")
            text = st.text_area("What was said (optional)", key=f"ext_text_{m.id}", height=70)
            if st.form_submit_button("Record outside reply", disabled=not can("reply")):
                moment = datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)
                if act("reply", replies.record_external, m.id, user["username"], moment, text, url or None,
                       success="Outside reply recorded") is not None:
                    st.rerun()
