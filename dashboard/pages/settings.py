"""Settings: brands (keywords, handles, exclusions, competitors), reply templates, SLA, schedule, users.

Everyone can read this page; only admins can change anything (checked here and again before each save).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from careline.services import app_settings, brands, users
from careline.services import sla as sla_service
from dashboard import care_settings, tags_panel
from dashboard.components import act, can, clean, db, require_user, settings

user = require_user()
st.title("Settings")
admin = can("settings")
if not admin:
    st.info("Only admins can change settings; you are seeing them read-only.")


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]


with db() as session:
    brand_rows = brands.all_brands(session)
    templates = app_settings.templates(session)
    sla = app_settings.sla_minutes(session, settings().sla_minutes)
    people = users.list_users(session) if can("users") else []

tab_brands, tab_templates, tab_sla, tab_teams, tab_routing, tab_users, tab_tags = st.tabs(
    ["Brands", "Reply templates", "SLA and schedule", "Teams", "Routing rules", "Users", "Tags"])

USER_ACTIONS = {"Change role": "role", "Disable (signs out everywhere)": "disable", "Enable": "enable",
                "Set a new password (signs out everywhere)": "passwd", "Remove (keeps the audit trail)": "remove"}


def _manage_user(names: list[str]) -> None:
    """Disable, enable, remove, new role or password: the same service calls as `careline user ...`."""
    with st.form("manage_user"):
        st.text("Change an existing user (takes effect at their next click in any open session):")
        c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
        who = c1.selectbox("User", names, key="mu_user")
        what = c2.selectbox("Change", list(USER_ACTIONS), key="mu_action")
        new_role = c3.selectbox("New role", list(users.ROLES), index=1, key="mu_role")
        new_pw = c4.text_input("New password", type="password", key="mu_password")
        if st.form_submit_button("Apply") and who:
            me, action = user["username"], USER_ACTIONS[what]
            calls: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
                "role": (users.set_role, (who, new_role, me)),
                "disable": (users.set_active, (who, False, me)),
                "enable": (users.set_active, (who, True, me)),
                "passwd": (users.set_password, (who, new_pw, me)),
                "remove": (users.remove, (who, me)),
            }
            fn, args = calls[action]
            if act("users", fn, *args, success=f"{who}: {what.split(' (')[0].lower()} done") is not None:
                st.rerun()


with tab_brands:
    st.text("Mentions are collected for every brand's keywords and handles, minus exclusions. Competitors are "
            "tracked for share of voice and are not put in front of the team as work.")
    for b in [*brand_rows, None]:
        title = f"{clean(b.name)}{' (competitor)' if b.competitor else ''}" if b else ":material/add: Add a brand"
        with st.expander(title, expanded=b is None and not brand_rows):
            suffix = str(b.id) if b else "new"
            with st.form(f"brand_{suffix}"):
                name = st.text_input("Name", b.name if b else "", disabled=not admin)
                keywords = st.text_area("Keywords (comma or line separated)", ", ".join(b.keywords) if b else "",
                                        disabled=not admin)
                handles = st.text_input("Handles (without @)", ", ".join(b.handles) if b else "", disabled=not admin)
                exclusions = st.text_input("Exclusions (mentions containing these are skipped)",
                                           ", ".join(b.exclusions) if b else "", disabled=not admin)
                competitor = st.checkbox("Competitor", b.competitor if b else False, disabled=not admin)
                if st.form_submit_button("Save brand", disabled=not admin):
                    saved = act("settings", brands.save_brand, user["username"], name, _split(keywords),
                                _split(handles), _split(exclusions), competitor, brand_id=b.id if b else None,
                                success="Brand saved")
                    if saved is not None:
                        st.rerun()

with tab_templates:
    st.text("Templates fill the reply composer. " + app_settings.TEMPLATE_HELP)
    edited: dict[str, str] = {}
    with st.form("templates"):
        for i, (tname, body) in enumerate(templates.items()):
            c1, c2 = st.columns([1, 3])
            new_name = c1.text_input("Name", tname, key=f"tpl_name_{i}", disabled=not admin)
            new_body = c2.text_area("Text", body, key=f"tpl_body_{i}", height=90, disabled=not admin)
            if new_name.strip() and new_body.strip():  # emptying both deletes the template
                edited[new_name.strip()] = new_body.strip()
        st.text("New template:")
        c1, c2 = st.columns([1, 3])
        add_name = c1.text_input("Name", key="tpl_name_new", disabled=not admin)
        add_body = c2.text_area("Text", key="tpl_body_new", height=90, disabled=not admin)
        if st.form_submit_button("Save templates", disabled=not admin):
            if add_name.strip() and add_body.strip():
                edited[add_name.strip()] = add_body.strip()
            act("settings", app_settings.put, "reply_templates", edited, user["username"], success="Templates saved")

with tab_sla:
    st.subheader("Default target")
    with st.form("sla"):
        new_sla = st.number_input("First-response target (minutes)", min_value=1, max_value=7 * 24 * 60, value=sla,
                                  disabled=not admin, help="Used by Trends and the weekly report.")
        if st.form_submit_button("Save SLA", disabled=not admin):
            act("settings", sla_service.save_default, user["username"], int(new_sla), success="SLA saved")
    st.subheader("Per-brand policies")
    care_settings.sla_section(user, admin, sla)
    s = settings()
    st.text("Schedule (set in the environment or careline.toml; restart `careline serve`/`worker` to change):")
    st.dataframe([
        {"Setting": "CARELINE_COLLECT_INTERVAL_MINUTES", "Value": str(s.collect_interval_minutes)},
        {"Setting": "CARELINE_CLASSIFY_INTERVAL_SECONDS", "Value": str(s.classify_interval_seconds)},
        {"Setting": "CARELINE_SEND_INTERVAL_SECONDS", "Value": str(s.send_interval_seconds)},
        {"Setting": "CARELINE_EXPORT_WEEKDAY / HOUR", "Value": f"{s.export_weekday} {s.export_hour}:00 {s.timezone}"},
        {"Setting": "CARELINE_SOURCES", "Value": ", ".join(s.sources)},
        {"Setting": "CARELINE_DRY_RUN", "Value": str(s.dry_run)},
    ], hide_index=True)

with tab_teams:
    care_settings.teams_section(user, admin)

with tab_routing:
    care_settings.routing_section(user, admin)

with tab_users:
    if not can("users"):
        st.text("Only admins can see and manage users.")
    else:
        st.dataframe([{"Username": u.username, "Name": clean(u.display_name), "Role": u.role,
                       "Active": "yes" if u.active else "no"} for u in people], hide_index=True)
        with st.form("add_user", clear_on_submit=True):
            st.text("Add a user, or reset a user's password and role:")
            c1, c2, c3 = st.columns(3)
            uname = c1.text_input("Username")
            pw = c2.text_input("Password (8+ characters)", type="password")
            role = c3.selectbox("Role", list(users.ROLES), index=1)
            if st.form_submit_button("Save user"):
                act("users", users.create_user, uname, pw, role, actor=user["username"], success="User saved")
        _manage_user([u.username for u in people])

with tab_tags:
    tags_panel.show()
