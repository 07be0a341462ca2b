"""Inbox → export the mentions the current search and filters match (CSV), for anyone who may export."""
from __future__ import annotations

import streamlit as st

from careline.services import search_export
from careline.services.inbox import InboxFilter
from dashboard.components import act, can


def show(flt: InboxFilter, order: str, total: int, signature: str, capped: bool = False) -> None:
    if not total:
        return
    c1, c2, _ = st.columns([2, 2, 4])
    ready = st.session_state.get("_export_csv")
    # a capped total ("1,000+") is not the number exported: the export counts as it writes
    label = (f"Export these mentions (CSV, up to {search_export.MAX_ROWS:,})" if capped
             else f"Export these {min(total, search_export.MAX_ROWS):,} mentions (CSV)")
    if c1.button(label, key="export_prepare",
                 disabled=not can("export")):
        made = act("export", search_export.to_csv, flt, st.session_state["user"]["username"], order=order)
        if made is not None:
            ready = st.session_state["_export_csv"] = (signature, made[0], made[1])
    if ready and ready[0] == signature:  # only for the filters it was made with
        c2.download_button(f"Download CSV ({ready[2]:,} rows)", ready[1], file_name="careline-mentions.csv",
                           mime="text/csv", key="export_download")
