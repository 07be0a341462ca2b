"""`careline demo` shows the care workflow: a team of two agents, a policy per brand, routing rules, an
escalated storm complaint and a reopened case; running it again adds nothing twice."""
from __future__ import annotations

from sqlmodel import Session, select
from typer.testing import CliRunner

from careline.care_demo import RULES
from careline.cli import app
from careline.db import get_engine
from careline.models import AuditEvent, Brand, Escalation, Mention, RoutingRule, SlaPolicy
from careline.services import inbox, teams
from careline.settings import get_settings

runner = CliRunner()


def test_demo_has_the_care_story(cli_env) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        result = runner.invoke(app, ["demo", "--no-serve"])
        assert result.exit_code == 0, result.output
    assert "a case reopened to its owner" in result.output or "escalation step(s) fired" in result.output
    with Session(get_engine(get_settings().url)) as s:
        team = teams.by_name(s, "Care desk")
        assert team is not None and teams.member_names(s, team.id) == ["agent", "sam"] and team.lead == "admin"
        ours = s.exec(select(Brand).where(Brand.competitor == False)).all()  # noqa: E712
        assert len(s.exec(select(SlaPolicy)).all()) == len(ours)
        assert len(s.exec(select(RoutingRule)).all()) == len(RULES)
        storm = s.exec(select(Mention).where(Mention.external_id == "demo-care-storm-late")).one()
        assert storm.assignee == "admin" and storm.priority_boost >= 30  # escalated to the lead, raised
        assert {e.step for e in s.exec(select(Escalation).where(Escalation.mention_id == storm.id))} == {0, 1}
        assert inbox.list_inbox(s, page_size=1).items[0].id == storm.id
        follow = s.exec(select(Mention).where(Mention.external_id == "demo-care-case-2")).one()
        reopened = s.exec(select(AuditEvent).where(AuditEvent.action == "case_reopen")).all()
        assert [e.mention_id for e in reopened] == [follow.id] and follow.assignee == "sam"
