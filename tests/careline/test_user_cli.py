"""`careline user add|disable|enable|remove|passwd|role`: each changes the User row and is audited."""
from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from careline.cli import app
from careline.db import get_engine
from careline.errors import NotFound
from careline.models import AuditEvent, User
from careline.services import users
from careline.settings import get_settings

runner = CliRunner()


def _run(*args: str, password: str | None = None) -> str:
    env = {"CARELINE_NEW_USER_PASSWORD": password} if password else {}
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_user_lifecycle_from_the_cli(cli_env: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    _run("user", "add", "boss", "--role", "admin", password="boss-password")
    _run("user", "add", "sam", "--role", "agent", password="sam-password")
    assert "disabled" in _run("user", "disable", "sam")
    engine = get_engine(get_settings().url)
    with Session(engine) as s:
        assert users.get(s, "sam").active is False
    _run("user", "enable", "sam")
    assert "viewer" in _run("user", "role", "sam", "--role", "viewer")
    _run("user", "passwd", "sam", password="sam-new-password")
    with Session(engine) as s:
        sam = users.get(s, "sam")
        assert sam.active and sam.role == "viewer"
        assert users.authenticate(s, "sam", "sam-new-password") is not None
    assert "removed" in _run("user", "remove", "sam")
    bad = runner.invoke(app, ["user", "remove", "sam"])
    assert bad.exit_code != 0 and isinstance(bad.exception, NotFound) and "no user 'sam'" in str(bad.exception)
    with Session(engine) as s:
        assert s.exec(select(User).where(User.username == "sam")).first() is None
        actions = {e.action for e in s.exec(select(AuditEvent).where(AuditEvent.actor.startswith("cli")))}
    assert {"user_disable", "user_enable", "user_role", "user_passwd", "user_remove"} <= actions
