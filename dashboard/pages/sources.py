"""Sources: each connector's health (last run, items, errors, rate-limit budget, paused and why); run now."""
from __future__ import annotations

import streamlit as st

from careline.services import budgets, sources
from careline.services import live as live_changes
from careline.services import streams as stream_service
from dashboard import live as live_page
from dashboard import reports_panel
from dashboard.components import act, can, db, md_escape, one_line, require_user, settings, when

user = require_user()
st.title("Sources")
st.text("Where mentions come from, and whether each connector is healthy. Collection runs every "
        f"{settings().collect_interval_minutes:g} minutes while careline serve or careline worker is running.")

with db() as session:
    enabled = stream_service.enabled_sources(settings().sources, settings().streams)
    health = sources.health(session, enabled)
    runs = sources.recent_runs(session, limit=200)
    live = {s.source: s for s in stream_service.statuses(session)}
# Streamlit's own icon font, not emoji: a server or browser without an emoji font showed empty boxes
BADGE = {sources.PAUSED: ":material/pause_circle: paused", sources.FAILING: ":red[:material/error: failing]",
         sources.NEVER_RUN: ":material/radio_button_unchecked: never run",
         sources.HEALTHY: ":green[:material/check_circle: healthy]"}

if not health:
    st.info("No sources are enabled. Set CARELINE_SOURCES (e.g. [\"reddit\", \"hackernews\"]) and restart.")

for src in health:
    name, last = src.name, src.last_run
    badge = BADGE[src.status]
    if name in live and src.status in (sources.HEALTHY, sources.NEVER_RUN):  # streams have no runs
        badge = (":green[:material/check_circle: streaming]" if live[name].connected
                 else ":material/radio_button_unchecked: not connected")
    with st.container(border=True):
        head, btns = st.columns([4, 2])
        head.markdown(f"**{md_escape(name)}** · {badge}" + ("" if src.enabled else " · not enabled"))
        if name == "x":  # X bills per post read: this month's reads and their cost against the budget
            with db() as session:
                spent = budgets.describe(session, budgets.Budget.for_source("x", settings()))
            if spent:
                head.text(f"Budget: {spent}")
        if name in live:  # a real-time stream: lag and events per minute instead of runs
            head.text(f"Stream: {stream_service.describe(live[name])}")
        if last:
            head.text(f"Last run {when(last.started_at)}: {last.items_seen} seen, {last.items_new} new, "
                      f"{last.items_skipped} skipped, {last.api_calls} API call(s)"
                      + (f", took {(last.finished_at - last.started_at).total_seconds():.1f} s" if last.finished_at else
                         ", still running"))
        if src.run_requested:
            head.text(f"Run requested {when(src.run_requested.requested_at)} by "
                      f"{one_line(src.run_requested.requested_by, 60)}: the scheduler starts it within seconds "
                      "(while `careline serve` or `careline worker` runs).")
        for s in src.paused:
            head.text(f"Paused until {when(s.paused_until)} ({s.query_key}): {one_line(s.paused_reason, 200)}")
        for s in src.states:
            if s.last_error and not s.healthy:
                head.text(f"Error on {s.query_key}: {one_line(s.last_error, 300)}")
            if s.rate_limit_limit or s.rate_limit_remaining is not None:
                head.text(f"Rate limit on {s.query_key}: {s.rate_limit_remaining} of {s.rate_limit_limit or '?'} "
                          f"left, resets {when(s.rate_limit_reset_at)}")
        if btns.button("Run now", key=f"run_{name}", disabled=not can("triage") or name not in settings().sources,
                       help="Ask the scheduler to collect this source now (then classify what arrived)."):
            if act("triage", sources.request_run, name, user["username"], settings().sources,
                   success=f"{name}: run requested"):
                st.rerun()
        if src.paused and btns.button("Resume", key=f"resume_{name}", disabled=not can("triage")):
            if act("triage", sources.resume, name, user["username"], success=f"{name} resumed"):
                st.rerun()

st.subheader("Recent runs")
st.dataframe([{"Source": r.source, "Query": r.query_key or "", "Started": when(r.started_at),
               "Seen": r.items_seen, "New": r.items_new, "Skipped": r.items_skipped, "API calls": r.api_calls,
               "Rate limit left": r.rate_limit_remaining if r.rate_limit_remaining is not None else "",
               "Error": one_line(r.error, 200)} for r in runs[:50]], hide_index=True, width="stretch")
st.divider()
reports_panel.show_alerts()
live_page.watch("sources", live_changes.sources_stamp)  # redraws itself when a run starts or ends, or a source pauses
