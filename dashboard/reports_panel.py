"""Alerts and the date-range export, from `careline.reports` when it is installed.

The reports package is optional at this layer: when it (or one of its functions) is missing, the panel says
so in one line and the rest of the page works.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from dashboard.components import act, can, current_user, db, md_escape, one_line, settings, when

log = logging.getLogger(__name__)

# (module, function) pairs tried in order; the first that exists is used.
EXPORT_CANDIDATES = [("careline.reports.weekly", "export_range_bytes"), ("careline.reports.weekly", "range_export"),
                     ("careline.reports", "export_range_bytes"), ("careline.reports.weekly", "export_range")]
ALERT_CANDIDATES = [("careline.reports.alerts", "recent"), ("careline.reports.alerts", "list_alerts"),
                    ("careline.reports.alerts", "recent_alerts")]


def _find(candidates: list[tuple[str, str]]) -> Callable[..., Any] | None:
    for module_name, attr in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, attr, None)
        if callable(fn):
            return fn
    return None


def alerts_list(limit: int = 20) -> list[Any] | None:
    """Recent Alert rows, or None when the reports package offers no listing yet."""
    fn = _find(ALERT_CANDIDATES)
    if fn is None:
        return None
    with db() as session:
        return list(fn(session, limit=limit))


def show_alerts(limit: int = 20) -> None:
    st.subheader("Alerts")
    try:
        alerts = alerts_list(limit)
    except Exception:  # noqa: BLE001 - a broken optional panel must not break the page
        log.exception("listing alerts failed")
        st.text("Alerts could not be loaded (see the log).")
        return
    if alerts is None:
        st.text("Alerts are not available in this installation (careline.reports has no alert list).")
        return
    if not alerts:
        st.text("No alerts. Volume and complaint spikes, and complaints from high-reach authors, show up here.")
        return
    st.dataframe([{"#": a.id, "When": when(a.created_at), "Kind": a.kind, "Message": one_line(a.message, 300),
                   "Mention": a.mention_id or "", "Delivered": "yes" if a.delivered_at else
                   ("failed: " + one_line(a.delivery_error, 80) if a.delivery_error else "not yet"),
                   "Seen by": getattr(a, "acknowledged_by", None) or ""}
                  for a in alerts], hide_index=True, width="stretch")
    ack = _find([("careline.reports.alerts", "acknowledge")])
    open_ids = [a.id for a in alerts if not getattr(a, "acknowledged_by", None)]
    if ack is not None and open_ids and can("triage"):
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox("Mark an alert as seen", open_ids, format_func=lambda i: f"Alert #{i}", key="ack_pick")
        if c2.button("Mark seen", key="ack_btn"):
            if act("triage", ack, pick, current_user()["username"], success="Alert marked as seen"):  # type: ignore[index]
                st.rerun()


def show(first: date, last: date) -> None:
    show_alerts()
    st.subheader("Export")
    fn = _find(EXPORT_CANDIDATES)
    if fn is None:
        st.text("The report export is not available in this installation (careline.reports is missing).")
        return
    if not can("export"):
        st.text("Your role cannot export.")
        return
    if st.button(f"Prepare the report for {first} – {last}", key="prepare_export"):
        try:
            with st.spinner("Building the report…"):
                result = fn(settings(), first, last)
            st.session_state["export_result"] = result
        except Exception as exc:  # noqa: BLE001 - one sentence, detail in the log
            log.exception("export failed")
            st.error("The export failed: " + md_escape(str(exc)))
    result = st.session_state.get("export_result")
    if result:
        for name, payload in _files(result):
            st.download_button(f"Download {name}", payload, file_name=name, key=f"dl_{name}")


def _files(result: Any) -> list[tuple[str, bytes]]:
    """Accept what an export returns: {name: bytes}, [(name, bytes)] or a list of paths."""
    from pathlib import Path

    if isinstance(result, dict):
        return [(str(k), v) for k, v in result.items()]
    out = []
    for item in result:
        if isinstance(item, tuple):
            out.append((str(item[0]), item[1]))
        else:
            p = Path(item)
            out.append((p.name, p.read_bytes()))
    return out
