"""Trends → Care: first response, resolution and breaches per brand, team or agent, and the breach list
(careline/services/care_metrics.py; competitors never count, dry runs are not answers)."""
from __future__ import annotations

from datetime import datetime

import streamlit as st

from careline.services import care_metrics, elapsed
from dashboard.components import clean, db, one_line, settings, when


@st.cache_data(ttl=60, show_spinner="Measuring response times…")
def _load(since: datetime, until: datetime, group: str) -> tuple[list[care_metrics.CareRow], list[care_metrics.Breach]]:
    with db() as session:
        return care_metrics.summary(session, since, until, group), care_metrics.breaches(session, since, until, limit=200)


def show(since: datetime, until: datetime) -> None:
    st.subheader("Care: response targets")
    st.text("Complaints and questions, per brand, team or agent. A breach is a mention answered after its "
            "response target (respond_by), or still unanswered past it. Replies recorded as made outside "
            "Careline count; dry runs do not. Competitors never count.")
    group = st.radio("Per", list(care_metrics.GROUPS), horizontal=True, key="care_group")
    rows, breaches = _load(since, until, group)
    if not rows:
        st.text("No complaints or questions in this range.")
        return
    st.dataframe([{group.title(): clean(r.group), "Complaints + questions": r.actionable, "Answered": r.answered,
                   "Breached": r.breached, "Breach %": round(100 * r.breach_share, 1),
                   "Median first response (min)": elapsed.display_minutes(r.median_first_response_s),
                   "Resolved": r.resolved,
                   "Median to resolution (min)": elapsed.display_minutes(r.median_resolution_s)} for r in rows],
                 hide_index=True, width="stretch")
    zone = settings().zone
    with st.expander(f"Breaches ({len(breaches)}{'+' if len(breaches) == 200 else ''})"):
        st.dataframe([{"#": b.mention_id, "Brand": clean(b.brand), "Team": clean(b.team), "Agent": b.agent,
                       "Posted": when(b.created_at),
                       "Target": b.respond_by.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                       "Answered": b.first_response_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                       if b.first_response_at else "not yet",
                       "Late (min)": b.late_minutes, "Text": one_line(b.text, 160)} for b in breaches],
                     hide_index=True, width="stretch")
