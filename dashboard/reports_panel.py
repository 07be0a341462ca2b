"""Alerts and the date-range export on the Trends and Sources pages (careline.reports draws nothing)."""
from __future__ import annotations

import logging
from datetime import date

import streamlit as st

from careline.models import Alert
from careline.reports.alerts import acknowledge, list_alerts
from careline.reports.weekly import export_range_bytes
from dashboard import themes_panel
from dashboard.components import act, can, current_user, db, md_escape, one_line, ref, settings, when

log = logging.getLogger(__name__)


def alerts_list(limit: int = 20) -> list[Alert]:
    """Recent Alert rows, newest first."""
    with db() as session:
        return list(list_alerts(session, limit=limit))


def show_alerts(limit: int = 20) -> None:
    st.subheader("Alerts")
    try:
        alerts = alerts_list(limit)
    except Exception:  # noqa: BLE001 - a broken optional panel must not break the page
        log.exception("listing alerts failed")
        st.text("Alerts could not be loaded (see the log).")
        return
    if not alerts:
        st.text("No alerts. Volume and complaint spikes, and complaints from high-reach authors, show up here.")
        return
    st.dataframe([{"#": a.id, "When": when(a.created_at), "Kind": a.kind, "Message": one_line(a.message, 300),
                   "Mention": ref(a.mention_id), "Delivered": "yes" if a.delivered_at else
                   ("failed: " + one_line(a.delivery_error, 80) if a.delivery_error else "not yet"),
                   "Seen by": a.acknowledged_by or ""}
                  for a in alerts], hide_index=True, width="stretch")
    themes_panel.storm_details(alerts)
    open_ids = [a.id for a in alerts if not a.acknowledged_by]
    if open_ids and can("triage"):
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox("Mark an alert as seen", open_ids, format_func=lambda i: f"Alert #{i}", key="ack_pick")
        if c2.button("Mark seen", key="ack_btn"):
            if act("triage", acknowledge, pick, current_user()["username"], success="Alert marked as seen"):  # type: ignore[index]
                st.rerun()


def show(first: date, last: date) -> None:
    show_alerts()
    st.subheader("Export")
    if not can("export"):
        st.text("Your role cannot export.")
        return
    if st.button(f"Prepare the report for {first} – {last}", key="prepare_export"):
        try:
            with st.spinner("Building the report…"):
                result = export_range_bytes(settings(), first, last)
            st.session_state["export_result"] = result
        except Exception as exc:  # noqa: BLE001 - one sentence, detail in the log
            log.exception("export failed")
            st.error("The export failed: " + md_escape(str(exc)))
    prepared: dict[str, bytes] | None = st.session_state.get("export_result")
    if prepared:
        for name, payload in prepared.items():
            st.download_button(f"Download {name}", payload, file_name=name, key=f"dl_{name}")
