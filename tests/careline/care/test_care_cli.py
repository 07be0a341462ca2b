"""`careline sla` and `careline teams` through typer's runner: saved, shown, refused in one sentence."""
from __future__ import annotations

from sqlmodel import Session, select
from typer.testing import CliRunner

from careline.cli import app
from careline.db import get_engine
from careline.errors import InvalidInput
from careline.models import AuditEvent, SlaPolicy
from careline.settings import get_settings

runner = CliRunner()


def test_sla_set_show_and_refuse(cli_env) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["init"]).exit_code == 0
    ok = runner.invoke(app, ["sla", "set", "Acme Air", "--minutes", "60", "--intent", "complaint=30",
                             "--timezone", "Europe/Berlin", "--hours", "mon-fri 09:00-17:00", "--pause",
                             "--holiday", "2026-12-25", "--as", "ops"])
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(app, ["sla", "show"])
    assert "Europe/Berlin" in shown.output and '{"complaint": 30}' in shown.output
    bad = runner.invoke(app, ["sla", "set", "Acme Air", "--minutes", "60", "--hours", "mon 17:00-09:00"])
    assert isinstance(bad.exception, InvalidInput)  # main() prints it as one sentence
    assert str(bad.exception) == "mon closes (09:00) before it opens (17:00)."
    with Session(get_engine(get_settings().url)) as s:
        policy = s.exec(select(SlaPolicy)).one()
        assert policy.business_hours["mon"] == ["09:00", "17:00"]  # the refused change saved nothing
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "sla_policy_save")).one().actor == "ops"


def test_teams_save_away_and_unknown_member(cli_env) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["init"]).exit_code == 0
    for name in ("ana", "ben"):
        assert runner.invoke(app, ["user", "add", name, "--password", "password-1"]).exit_code == 0
    bad = runner.invoke(app, ["teams", "save", "Care", "--member", "ana", "--member", "zed"])
    assert isinstance(bad.exception, InvalidInput) and "No active user named zed" in str(bad.exception)
    assert runner.invoke(app, ["teams", "save", "Care", "--member", "ana", "--member", "ben", "--lead", "ben",
                               "--cap", "3"]).exit_code == 0
    assert runner.invoke(app, ["teams", "away", "ana"]).exit_code == 0
    listed = runner.invoke(app, ["teams", "list"])
    assert "ana (away)" in listed.output and "ben" in listed.output
