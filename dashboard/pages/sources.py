"""Sources: each connector's health (last run, items, errors, rate-limit budget, paused and why); run now."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from careline.services import audit, collection
from dashboard import reports_panel
from dashboard.components import act, can, db, md_escape, one_line, require_user, settings, when

user = require_user()
st.title("Sources")
st.text("Where mentions come from, and whether each connector is healthy. Collection runs every "
        f"{settings().collect_interval_minutes} minutes while `careline serve` or `careline worker` is running.")

with db() as session:
    states = collection.states(session)
    runs = collection.recent_runs(session, limit=200)
enabled = list(settings().sources)
names = sorted(set(enabled) | {s.source for s in states} | {r.source for r in runs})
now = datetime.now(timezone.utc)

if not names:
    st.info("No sources are enabled. Set CARELINE_SOURCES (e.g. [\"reddit\", \"hackernews\"]) and restart.")

for name in names:
    mine = [s for s in states if s.source == name]
    last = next((r for r in runs if r.source == name), None)
    paused = [s for s in mine if s.paused_until and s.paused_until > now]
    unhealthy = [s for s in mine if not s.healthy]
    if paused:
        badge = "⏸️ paused"
    elif unhealthy or (last and last.error):
        badge = "🔴 failing"
    elif last is None:
        badge = "⚪ never run"
    else:
        badge = "🟢 healthy"
    with st.container(border=True):
        head, btns = st.columns([4, 2])
        head.markdown(f"**{md_escape(name)}** · {badge}" + ("" if name in enabled else " · not enabled"))
        if last:
            head.text(f"Last run {when(last.started_at)}: {last.items_seen} seen, {last.items_new} new, "
                      f"{last.items_skipped} skipped, {last.api_calls} API call(s)"
                      + (f", took {(last.finished_at - last.started_at).total_seconds():.1f} s" if last.finished_at else
                         ", still running"))
        for s in paused:
            head.text(f"Paused until {when(s.paused_until)} ({s.query_key}): {one_line(s.paused_reason, 200)}")
        for s in mine:
            if s.last_error and not s.healthy:
                head.text(f"Error on {s.query_key}: {one_line(s.last_error, 300)}")
            if s.rate_limit_limit or s.rate_limit_remaining is not None:
                head.text(f"Rate limit on {s.query_key}: {s.rate_limit_remaining} of {s.rate_limit_limit or '?'} "
                          f"left, resets {when(s.rate_limit_reset_at)}")
        run_now = btns.button("Run now", key=f"run_{name}", disabled=not can("triage") or name not in enabled,
                              help="Collect this source once now, then classify what arrived.")
        if run_now:
            from careline import jobs

            def _run(session, source: str) -> int:  # type: ignore[no-untyped-def]
                audit.record(session, user["username"], "source_run", source=source)
                session.commit()
                return jobs.collect_source(source)

            with st.spinner(f"Collecting {name}…"):
                new = act("triage", _run, name)
            if new is not None:
                st.toast(f"{name}: {new} new mention(s)")
                st.rerun()
        if paused and btns.button("Resume", key=f"resume_{name}", disabled=not can("triage")):
            if act("triage", collection.resume, name, user["username"], success=f"{name} resumed"):
                st.rerun()

st.subheader("Recent runs")
st.dataframe([{"Source": r.source, "Query": r.query_key or "", "Started": when(r.started_at),
               "Seen": r.items_seen, "New": r.items_new, "Skipped": r.items_skipped, "API calls": r.api_calls,
               "Rate limit left": r.rate_limit_remaining if r.rate_limit_remaining is not None else "",
               "Error": one_line(r.error, 200)} for r in runs[:50]], hide_index=True, width="stretch")
st.divider()
reports_panel.show_alerts()
