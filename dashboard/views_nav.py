"""Saved views in the dashboard: navigation entries with a live count, opening one, saving the current filters.

Opening a view puts its choices into the inbox's filter widgets (so the person sees, and can change, what the
view means) and switches to the inbox. The rules (what a view holds, who may delete it) are in
careline/services/views.py; this module only moves choices between widgets and the service.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from careline.errors import NotFound
from careline.services import inbox, views
from dashboard import lagging
from dashboard.components import act, clean, db, md_escape

PENDING = "_open_view"
ACTIVE = "_active_view"
DAYS = {1: "Last 24 hours", 7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}


def _counts(username: str, generation: int) -> list[tuple[int, str, int, bool, bool]]:
    """(id, name, count, capped, shared) per visible view, counted up to the 1,000 the title shows ("1,000+")."""
    with db() as session:
        return [(v.id, v.name, n, capped, v.shared)  # type: ignore[misc]
                for v, n, capped in views.counts(session, username, cap=inbox.COUNT_CAP)]


def entry_title(name: str, n: int, capped: bool) -> str:
    """A view's navigation entry: its name (plain, shortened) and live count, "1,000+" only past the cap."""
    return f"{clean(name, 40)} · {n:,}{'+' if capped else ''}"


def _generation() -> int:
    return int(st.session_state.get("_views_gen", 0))


def pages(user: dict[str, Any], inbox_page: Any) -> list[Any]:
    """One navigation entry per saved view, titled with its live count ("Mine · 12")."""
    entries = []
    # Recounted every 30 s behind the page (a new generation after a save or delete counts at once): at 1M
    # mentions a recount took 0.1-2.5 s, which every 30 s fell on whatever the person clicked.
    for view_id, name, n, capped, shared in lagging.value(_counts, user["username"], _generation(), ttl=30):
        entries.append(st.Page(_opener(view_id, inbox_page), title=entry_title(name, n, capped),
                               icon=":material/group:" if shared else ":material/bookmark:",
                               url_path=f"view-{view_id}"))
    return entries


def _opener(view_id: int, inbox_page: Any) -> Callable[[], None]:
    def open_view() -> None:
        st.session_state[PENDING] = view_id
        st.switch_page(inbox_page)

    open_view.__name__ = f"view_{view_id}"
    return open_view


def apply_pending(user: dict[str, Any], options: dict[str, list[Any]], sorts: dict[str, str]) -> None:
    """Before the inbox draws its widgets: put the opened view's choices into them."""
    view_id = st.session_state.pop(PENDING, None)
    if view_id is None:
        return
    with db() as session:
        view = views.get(session, int(view_id), user["username"])
    f = view.filters or {}

    def pick(key: str, name: str) -> list[Any]:
        return [x for x in f.get(name) or [] if x in options[key]]

    state = st.session_state
    state["f_text"] = view.query
    state["f_brand"], state["f_platform"] = pick("f_brand", "brand_ids"), pick("f_platform", "platforms")
    state["f_sentiment"], state["f_intent"] = pick("f_sentiment", "sentiments"), pick("f_intent", "intents")
    state["f_status"] = pick("f_status", "statuses") if "statuses" in f else ["new", "assigned"]
    state["f_lang"], state["f_tags"] = pick("f_lang", "languages"), pick("f_tags", "tags")
    who = f.get("assignee")
    state["f_assignee"] = ("Me" if who == "me" else "Unassigned" if who == "" else
                           who if who in options["f_assignee"] else "Anyone")
    state["f_when"] = DAYS.get(int(f.get("days") or 0), "Any time")
    state["f_review"] = "Need review (unsure or other language)" if f.get("needs_review") else "All"
    state["f_sort"] = next((label for label, key in sorts.items() if key == view.sort), next(iter(sorts)))
    state["f_everywhere"] = False
    state["f_overdue"] = bool(f.get("overdue"))
    state[ACTIVE] = view.id


def current_filters(choices: dict[str, Any]) -> dict[str, Any]:
    """The inbox's widget choices as a view's `filters` (relative: "Me" stays "me", periods stay days)."""
    who = choices["who"]
    days = next((d for d, label in DAYS.items() if label == choices["period"]), None)
    out = {"brand_ids": choices["brand_ids"], "platforms": choices["platforms"], "sentiments": choices["sentiments"],
           "intents": choices["intents"], "statuses": choices["statuses"], "languages": choices["langs"],
           "tags": choices["tags"], "days": days, "overdue": choices.get("overdue") or None,
           "needs_review": True if choices["review"] != "All" else None,
           "assignee": {"Anyone": None, "Me": "me", "Unassigned": ""}.get(who, who)}
    if not out["statuses"]:
        out["statuses"] = []  # "every status" is a choice too; keep it explicit
    return {k: v for k, v in out.items() if v is not None and (v != [] or k == "statuses")}


def save_panel(user: dict[str, Any], query: str, filters: dict[str, Any], sort: str) -> None:
    """Save the current search and filters as a view; delete the open one when it is the person's own."""
    with st.expander("Saved views: save these filters", expanded=False):
        c1, c2, c3 = st.columns([3, 1, 1])
        name = c1.text_input("View name", key="view_name", max_chars=80)
        shared = c2.checkbox("Share with the team", key="view_shared")
        if c3.button("Save view", key="view_save") and act(
                "read", views.save, name, user["username"], query=query, filters=filters, sort=sort, shared=shared,
                success=f"Saved view {md_escape(name, 80)}") is not None:
            st.session_state["_views_gen"] = _generation() + 1
            st.rerun()
        active = st.session_state.get(ACTIVE)
        if active:
            with db() as session:
                try:
                    view = views.get(session, int(active), user["username"])
                except NotFound:  # deleted elsewhere: nothing to offer
                    st.session_state.pop(ACTIVE, None)
                    return
            st.text(f"Open view: {clean(view.name, 80)}" + (" (built in)" if view.builtin else ""))
            if not view.builtin and st.button("Delete this view", key="view_delete") and act(
                    "read", views.delete, view.id, user["username"], is_admin=user["role"] == "admin",
                    success=f"Deleted view {md_escape(view.name, 80)}") is not None:
                st.session_state.pop(ACTIVE, None)
                st.session_state["_views_gen"] = _generation() + 1
                st.rerun()
