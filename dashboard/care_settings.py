"""Settings sections of the care workflow: SLA policies per brand, teams and availability, routing rules.

Everything is read through and saved by careline/services (sla, teams, routing); a refused save shows the
service's one sentence and changes nothing.
"""
from __future__ import annotations

import json

import streamlit as st
from sqlmodel import Session

from careline.services import escalation, sla
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
    default_steps = json.dumps(escalation.steps_to_json(escalation.DEFAULT_STEPS))
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
