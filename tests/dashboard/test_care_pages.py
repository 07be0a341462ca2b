"""The care workflow in the dashboard (AppTest): SLA policy form, time left on inbox rows and in the detail."""
from __future__ import annotations

from sqlmodel import Session, select

from careline.models import Brand, SlaPolicy


def _form_button(at, label: str, nth: int = 0):  # type: ignore[no-untyped-def]
    return [b for b in at.button if b.label == label][nth]


def test_admin_saves_a_brand_policy_and_bad_hours_are_refused(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    at = page("settings", role="admin")
    hours = [t for t in at.text_area if t.label.startswith("Business hours")][0]
    hours.input("mon 17:00-09:00")
    _form_button(at, "Save policy").click().run()
    assert any("before it opens" in e.value for e in at.error), [e.value for e in at.error]
    with Session(dash_db) as s:
        assert s.exec(select(SlaPolicy)).first() is None  # refused: nothing saved
    at = page("settings", role="admin")
    [t for t in at.text_area if t.label.startswith("Business hours")][0].input("mon-fri 09:00-17:00")
    [t for t in at.text_input if t.label.startswith("Per intent")][0].input("complaint=30")
    [t for t in at.text_input if t.label == "Time zone"][0].input("Europe/Berlin")
    _form_button(at, "Save policy").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(dash_db) as s:
        acme = s.exec(select(Brand).where(Brand.name == "Acme Air")).one()
        policy = s.exec(select(SlaPolicy).where(SlaPolicy.brand_id == acme.id)).one()
        assert policy.intent_minutes == {"complaint": 30} and policy.timezone == "Europe/Berlin"
    viewer = page("settings", role="viewer")
    assert all(b.disabled for b in viewer.button if b.label == "Save policy")


def test_inbox_rows_show_time_left_or_overdue(page) -> None:  # type: ignore[no-untyped-def]
    at = page("inbox", role="agent")
    rows = at.dataframe[0].value
    assert "Due" in rows.columns
    dues = set(rows["Due"])
    assert any(d.startswith("overdue ") for d in dues)  # complaints from hours ago under the 120-minute default
    assert any(d.startswith("due in ") for d in dues) or any(d == "" for d in dues)


def test_admin_builds_a_team_and_a_rule_bad_rule_refused(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    from careline.models import RoutingRule, Team

    at = page("settings", role="admin")
    [t for t in at.text_input if t.label == "Team name"][0].input("Care")
    [m for m in at.multiselect if m.label == "Agents"][0].set_value(["admin", "agent"])
    _form_button(at, "Save team").click().run()
    assert not at.error, [e.value for e in at.error]
    at = page("settings", role="admin")
    [t for t in at.text_input if t.label == "Rule name"][0].input("to care")
    [t for t in at.text_area if t.label.startswith("Then")][0].input('[{"team": "Nobody"}]')
    _form_button(at, "Save rule").click().run()
    assert any("No team named" in e.value for e in at.error)
    [t for t in at.text_area if t.label.startswith("Then")][0].input('[{"team": "Care"}]')
    _form_button(at, "Save rule").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(dash_db) as s:
        assert s.exec(select(Team)).one().name == "Care"
        assert s.exec(select(RoutingRule)).one().actions == [{"team": "Care"}]


def test_detail_records_an_outside_reply_and_shows_the_conversation(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    from careline.models import AuditEvent, Mention, Reply
    from tests.dashboard.conftest import mention_id, open_mention

    mid = mention_id(dash_db, "Acme Air lost my bag")
    at = page("inbox", role="agent")
    open_mention(at, mid)
    assert any(e.label.startswith("Conversation") for e in at.expander)
    [b for b in at.button if b.label == "Record outside reply"][0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with Session(dash_db) as s:
        reply = s.exec(select(Reply).where(Reply.mention_id == mid)).one()
        m = s.get(Mention, mid)
        assert reply.kind == "external" and reply.state == "sent" and m.first_response_at is not None
        assert m.status == "replied"
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "record_external_reply")).one().actor == "agent"


def test_trends_shows_care_metrics_without_competitors(page) -> None:  # type: ignore[no-untyped-def]
    at = page("trends", role="viewer")
    care = [d.value for d in at.dataframe if "Breached" in d.value.columns]
    assert care, "the Care table is on Trends"
    assert "Skyhop" not in set(care[0].iloc[:, 0])  # the competitor's complaint never counts
    assert care[0]["Complaints + questions"].sum() == 4  # our 3 complaints and 1 question


def test_escalation_notice_shows_in_the_inbox_of_the_people_it_names(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    from careline.models import Alert

    with Session(dash_db) as s:
        s.add(Alert(kind="escalation", dedup_key="escalation:1:now", mention_id=1,
                    message="Escalation (Care): 3 mentions near or past their response target (2 breached)",
                    detail={"recipients": ["agent"], "mention_ids": [1, 2, 3]}))
        s.commit()
    agent = page("inbox", role="agent")
    assert any("3 mentions near or past" in w.value for w in agent.warning)
    viewer = page("inbox", role="viewer")
    assert not any("near or past" in w.value for w in viewer.warning)
