"""What a new user sees: after `careline demo`, last week's files exist and the built-in spike is an alert;
`careline export` and the scheduled jobs work on the same database."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from careline import jobs
from careline import settings as settings_module
from careline.cli import app
from careline.db import get_engine
from careline.models import Alert
from careline.reports.periods import last_complete_week

runner = CliRunner()


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARELINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CARELINE_MODEL", "lexicon")
    monkeypatch.setenv("CARELINE_TIMEZONE", "Europe/Berlin")
    settings_module.get_settings.cache_clear()
    yield tmp_path
    settings_module.get_settings.cache_clear()


def test_demo_leaves_last_weeks_report_and_the_spike_alert(demo_env: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    settings = settings_module.get_settings()
    week = last_complete_week(settings.zone).label
    exports = demo_env / "var" / "exports"
    assert (exports / f"careline-{week}.xlsx").exists() and (exports / f"careline-{week}.html").exists()
    engine = get_engine(settings.url)
    with Session(engine) as session:
        alerts = session.exec(select(Alert)).all()
    assert any(a.kind == "complaint_spike" and "Acme Air" in a.message for a in alerts), [a.message for a in alerts]
    # the storm alert says what it is about, with its share (the demo's storm is lost baggage)
    assert any(a.kind.endswith("spike") and "bag" in a.message and "%" in a.message.split("—")[-1]
               for a in alerts), [a.message for a in alerts]

    # the team's past weeks are answered, mostly within target: Trends shows a rhythm, not 95% breaches
    from datetime import datetime, timedelta, timezone

    from careline.services import care_metrics

    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        (row,) = care_metrics.summary(session, now - timedelta(days=90), now, "brand")
    assert row.answered > row.actionable / 2 and 0.1 < row.breach_share < 0.5, row
    assert row.median_first_response_s and row.median_resolution_s, row
    assert "from:" in result.output  # the search demo names a customer's handle to try

    # the scheduled jobs and the commands on the same database: no duplicates, no errors
    jobs.check_alerts(settings)
    jobs.weekly_export(settings)
    with Session(engine) as session:
        assert len(session.exec(select(Alert)).all()) == len(alerts)
    listed = runner.invoke(app, ["alerts", "--check"])
    assert listed.exit_code == 0 and "complaint_spike" in listed.output and "0 new" in listed.output
    export = runner.invoke(app, ["export", "--week", "2026-W01", "--out", str(demo_env / "w1")])
    assert export.exit_code == 0, export.output
    assert (demo_env / "w1" / "careline-2026-W01-summary.csv").exists()
    bad = runner.invoke(app, ["export", "--week", "2026-W60"])
    assert bad.exit_code != 0 and "2026 has no ISO week 60." in str(bad.exception)


def test_report_commands_have_help() -> None:
    for cmd in ("export", "alerts"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, result.output
