"""`careline reply` and `careline outbox` through typer's runner, on a fresh database (dry run: no credentials)."""
from __future__ import annotations

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from careline import settings as settings_module
from careline.cli import app
from careline.db import get_engine
from careline.errors import Conflict
from careline.models import Mention, Reply

runner = CliRunner()


@pytest.fixture
def env(cli_env):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    engine = get_engine(settings_module.get_settings().url)
    with Session(engine) as s:
        m = Mention(platform="x", external_id="1600", text="[bold]lost bag[/bold]", author_handle="bob")
        s.add(m)
        s.commit()
        yield engine, m.id
    settings_module.get_settings.cache_clear()


def test_reply_send_now_records_a_dry_run_and_outbox_lists_it(env) -> None:  # type: ignore[no-untyped-def]
    engine, mid = env
    result = runner.invoke(app, ["reply", str(mid), "Sorry [red]Bob[/red]!", "--send-now", "--as", "alice"])
    assert result.exit_code == 0, result.output
    assert "Dry run:" in result.output and "CARELINE_X_CONSUMER_KEY" in result.output
    assert "Recorded as a dry run: nothing was published" in result.output
    with Session(engine) as s:
        (row,) = s.query(Reply).all()
    assert row.state == "sent" and row.dry_run and row.created_by == "alice" and row.text == "Sorry [red]Bob[/red]!"
    again = runner.invoke(app, ["reply", str(mid), "Another"])
    assert isinstance(again.exception, Conflict)
    listing = runner.invoke(app, ["outbox"])
    assert listing.exit_code == 0, listing.output
    assert "sent (dry run)" in listing.output and "Sorry [red]Bob[/red]!" in listing.output  # shown as typed


def test_reply_queue_then_outbox_send_and_resolve(env) -> None:  # type: ignore[no-untyped-def]
    engine, mid = env
    result = runner.invoke(app, ["reply", str(mid), "On it", "--as", "alice"])
    assert result.exit_code == 0 and "Queued reply #" in result.output
    with Session(engine) as s:
        (row,) = s.query(Reply).all()
        row.state, row.error = "unknown", "Could not tell"
        s.add(row)
        s.commit()
        rid = row.id
    bad = runner.invoke(app, ["outbox", "--mark-sent", str(rid)])
    assert bad.exception is not None and "--url" in str(bad.exception)
    ok = runner.invoke(app, ["outbox", "--mark-sent", str(rid), "--url", "https://x.com/AcmeAir/status/1", "--as", "carol"])
    assert ok.exit_code == 0, ok.output
    assert "recorded as sent" in ok.output
    with Session(engine) as s:
        assert s.get(Reply, rid).state == "sent"  # type: ignore[union-attr]


def test_help() -> None:
    for cmd in ("reply", "outbox"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
