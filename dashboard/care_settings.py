"""Settings sections of the care workflow: SLA policies per brand, teams and availability, routing rules.

Everything is read through and saved by careline/services (sla, teams, routing); a refused save shows the
service's one sentence and changes nothing.
"""
from __future__ import annotations

import json

import streamlit as st
from sqlmodel import Session

from careline.services import escalation_steps, routing, sla, teams, users
from dashboard.components import act, clean, db


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in (mapping or {}).items())


def _save_policy(session: Session, actor: str, brand_id: int, minutes: int, intents: str, platforms: str, zone: str, hours: str,
                 holidays: str, pause: bool, steps: str) -> object:
    """Parse the form's text fields through the services, then save; any problem is one sentence."""
    try:
        parsed_steps = json.loads(steps) if steps.strip() else None
    except json.JSONDecodeError as exc:
        from careline.errors import InvalidInput

        raise InvalidInput(f"The escalation steps are not valid JSON ({exc.msg} at character {exc.pos}).") from None
    return sla.save_policy(session, actor, brand_id, minutes=minutes,
                           intent_minutes=sla.pairs_from_text(intents, "intent"),
                           platform_minutes=sla.pairs_from_text(platforms, "platform"), timezone_name=zone,
                           business_hours=sla.hours_from_text(hours), holidays=_split(holidays),
                           pause_outside_hours=pause, escalation=parsed_steps)


def sla_section(user: dict[str, str], admin: bool, default_minutes: int) -> None:
    st.text(f"Each brand can have its own first-response target; brands without one use {default_minutes} min "
            "around the clock. The strictest target that applies (intent, platform) wins. Outside business "
            "hours the clock waits for the next opening; tick 'pause' to stop it whenever the team is off.")
    with db() as session:
        rows = sla.list_policies(session)
    default_steps = json.dumps(escalation_steps.steps_to_json(escalation_steps.DEFAULT_STEPS))
    for brand, policy in rows:
        if brand.competitor:
            continue  # competitors are not answered, so they have no response target
        title = f"{clean(brand.name)}: " + (f"{policy.first_response_minutes} min" if policy else "default target")
        with st.expander(title):
            with st.form(f"sla_{brand.id}"):
                minutes = st.number_input("First-response target (minutes)", 1, 30 * 24 * 60,
                                          policy.first_response_minutes if policy else default_minutes,
                                          disabled=not admin)
                c1, c2 = st.columns(2)
                intents = c1.text_input("Per intent (e.g. complaint=60)", _pairs(policy.intent_minutes) if policy else "",
                                        disabled=not admin)
                platforms = c2.text_input("Per platform (e.g. x=30)", _pairs(policy.platform_minutes) if policy else "",
                                          disabled=not admin)
                zone = st.text_input("Time zone", policy.timezone if policy else "UTC", disabled=not admin)
                hours = st.text_area("Business hours, one line each (empty = around the clock)",
                                     sla.hours_to_text(policy.business_hours) if policy else "",
                                     placeholder="mon-fri 09:00-17:00", disabled=not admin, height=80)
                holidays = st.text_input("Holidays (dates, comma separated)",
                                         ", ".join(policy.holidays) if policy else "", disabled=not admin)
                pause = st.checkbox("Pause the clock outside business hours",
                                    policy.pause_outside_hours if policy else False, disabled=not admin)
                steps = st.text_area("Escalation steps (JSON; 'at' = minutes from the deadline, negative = before)",
                                     json.dumps(policy.escalation) if policy else default_steps,
                                     disabled=not admin, height=80)
                if st.form_submit_button("Save policy", disabled=not admin):
                    saved = act("settings", _save_policy, user["username"], brand.id, int(minutes), intents,
                                platforms, zone, hours, holidays, pause, steps, success="SLA policy saved")
                    if saved is not None:
                        st.text(f"{saved[1]:,} open mention(s) re-timed.")  # type: ignore[index]


def teams_section(user: dict[str, str], admin: bool) -> None:
    st.text("Routing rules can hand a mention to a team: round robin among its available agents, skipping "
            "anyone already holding the cap of open mentions. Escalation reassigns breached mentions to the lead.")
    with db() as session:
        team_rows = [(t, teams.member_names(session, t.id or 0)) for t in teams.list_teams(session)]
        away = {u for u, ok in teams.availability(session).items() if not ok}
        people = [u.username for u in users.list_users(session) if u.active and u.role != "viewer"]
    me = user["username"]
    if me in people:  # anyone who triages can mark themselves away; admins can mark anyone
        here = me not in away
        label = "I'm away (no new mentions from round robin)" if here else "I'm back (available)"
        if st.button(label, key="me_away"):
            if act("triage", teams.set_available, me, not here, me, success="Availability saved") is not None:
                st.rerun()
    for team, members in [*team_rows, (None, [])]:
        title = (f"{clean(team.name)} · {len(members)} agent(s), lead {team.lead or '—'}" if team
                 else "➕ Add a team")
        with st.expander(title, expanded=team is None and not team_rows):
            suffix = str(team.id) if team else "new"
            with st.form(f"team_{suffix}"):
                name = st.text_input("Team name", team.name if team else "", disabled=not admin)
                chosen = st.multiselect("Agents", people, default=[m for m in members if m in people],
                                        disabled=not admin)
                lead = st.selectbox("Lead (gets breached mentions)", ["(none)", *people],
                                    index=(people.index(team.lead) + 1) if team and team.lead in people else 0,
                                    disabled=not admin)
                cap = st.number_input("Open mentions per agent (cap)", 1, 10_000, team.open_cap if team else 20,
                                      disabled=not admin)
                if st.form_submit_button("Save team", disabled=not admin):
                    if act("settings", teams.save_team, user["username"], name, chosen,
                           lead=None if lead == "(none)" else lead, open_cap=int(cap),
                           team_id=team.id if team else None, success="Team saved") is not None:
                        st.rerun()
            if team is not None and members:
                st.text("Away: " + (", ".join(m for m in members if m in away) or "nobody"))
    if admin and people:
        with st.form("availability"):
            c1, c2 = st.columns([3, 1])
            who = c1.selectbox("Agent", people)
            state = c2.selectbox("Availability", ["available", "away"])
            if st.form_submit_button("Save availability"):
                act("settings", teams.set_available, who, state == "available", user["username"],
                    success="Availability saved")


def _save_rule(session: Session, actor: str, name: str, conditions: str, actions: str, position: int,
               stop: bool, enabled: bool, rule_id: int | None) -> object:
    return routing.save_rule(session, actor, name, routing.parse_json(conditions or "{}", "conditions"),
                             routing.parse_json(actions or "[]", "actions"), position=position, stop=stop,
                             enabled=enabled, rule_id=rule_id)


def routing_section(user: dict[str, str], admin: bool) -> None:
    st.text("Rules run in order (lowest position first) when a mention is classified, and again when its "
            "labels are corrected. Conditions: " + ", ".join(sorted(routing.CONDITIONS)) + ". Actions: "
            + ", ".join(sorted(routing.ACTIONS)) + ". Routing never takes a mention away from a person.")
    with db() as session:
        rules = routing.list_rules(session)
    if rules:
        st.dataframe([{"Position": r.position, "Name": clean(r.name), "Rule": clean(routing.describe(r.conditions, r.actions)),
                       "Enabled": "yes" if r.enabled else "no", "Stop": "yes" if r.stop else ""} for r in rules],
                     hide_index=True)
    for rule in [*rules, None]:
        with st.expander(f"Edit: {clean(rule.name)}" if rule else "➕ Add a rule", expanded=rule is None and not rules):
            suffix = str(rule.id) if rule else "new"
            with st.form(f"rule_{suffix}"):
                name = st.text_input("Rule name", rule.name if rule else "", disabled=not admin)
                conditions = st.text_area("When (JSON object; every key must hold)",
                                          json.dumps(rule.conditions) if rule else '{"intent": ["complaint"]}',
                                          disabled=not admin, height=80)
                actions = st.text_area("Then (JSON list of actions, run in order)",
                                       json.dumps(rule.actions) if rule else '[{"tag": "complaint"}]',
                                       disabled=not admin, height=80)
                c1, c2, c3 = st.columns(3)
                position = c1.number_input("Position", 0, 100_000, rule.position if rule else 10 * (len(rules) + 1),
                                           disabled=not admin)
                stop = c2.checkbox("Stop after this rule", rule.stop if rule else False, disabled=not admin)
                enabled = c3.checkbox("Enabled", rule.enabled if rule else True, disabled=not admin)
                if st.form_submit_button("Save rule", disabled=not admin):
                    if act("settings", _save_rule, user["username"], name, conditions, actions, int(position), stop,
                           enabled, rule.id if rule else None, success="Rule saved") is not None:
                        st.rerun()
            if rule is not None and admin and st.button("Delete rule", key=f"del_rule_{rule.id}"):
                if act("settings", routing.delete_rule, user["username"], rule.id, success="Rule deleted") is not None:
                    st.rerun()
