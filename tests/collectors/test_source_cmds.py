"""`careline backfill` and `careline sources` through typer's runner, on a fresh SQLite database."""
from __future__ import annotations

import re

import pytest
import responses
from sqlmodel import Session, select
from typer.testing import CliRunner

from careline import settings as settings_module
from careline.cli import app
from careline.db import get_engine
from careline.models import AuditEvent, SourceState
from tests.collectors.conftest import X_SEARCH, payload

runner = CliRunner()


@pytest.fixture
def env(cli_env, monkeypatch):  # type: ignore[no-untyped-def]
    tmp_path = cli_env
    monkeypatch.setenv("CARELINE_SOURCES", '["demo", "x"]')
    monkeypatch.setenv("CARELINE_X_BEARER_TOKEN", "test-bearer-token")
    settings_module.get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    yield tmp_path
    settings_module.get_settings.cache_clear()


def _states():  # type: ignore[no-untyped-def]
    engine = get_engine(settings_module.get_settings().url)
    with Session(engine) as s:
        return list(s.exec(select(SourceState).where(SourceState.source == "x")))


def test_backfill_x_pages_with_progress_and_counts(env) -> None:  # type: ignore[no-untyped-def]
    with responses.RequestsMock() as http:
        for name in ("x_search_page1.json", "x_search_page2.json", "x_search_page3.json"):
            http.add(responses.GET, X_SEARCH, json=payload(name))
        result = runner.invoke(app, ["backfill", "--source", "x", "--pages", "50", "--brand", "Acme Air",
                                     "--no-classify"])
    assert result.exit_code == 0, result.output
    assert "Backfilling x" in result.output and "ETA" in result.output
    assert "3 page(s), 6 seen, 6 new" in result.output and "3 API call(s) (0.500 per new mention)" in result.output
    assert [st.query_key for st in _states()] == ["x:1"]  # --brand: Skyhop was not touched


def test_sources_list_pause_resume(env) -> None:  # type: ignore[no-untyped-def]
    listed = runner.invoke(app, ["sources"])
    assert listed.exit_code == 0 and "not run yet" in listed.output
    paused = runner.invoke(app, ["sources", "pause", "x", "--hours", "2"])
    assert paused.exit_code == 0 and "2 queries paused until" in paused.output
    assert all(st.paused_until is not None for st in _states())
    collected = runner.invoke(app, ["collect", "--source", "x"])  # paused: no HTTP at all (none is mocked)
    assert collected.exit_code == 0 and "x: paused until" in collected.output and "(paused by cli)" in collected.output
    assert "0 seen" not in collected.output  # a paused source says so, not "0 seen"
    listed = runner.invoke(app, ["sources", "list"])
    assert "x:1" in listed.output and "x:2" in listed.output and "FAILING" not in listed.output
    resumed = runner.invoke(app, ["sources", "resume", "x"])
    assert resumed.exit_code == 0 and all(st.paused_until is None for st in _states())
    engine = get_engine(settings_module.get_settings().url)
    with Session(engine) as s:
        actions = [e.action for e in s.exec(select(AuditEvent))]
    assert "source_pause" in actions and "source_resume" in actions
    bad = runner.invoke(app, ["sources", "pause", "myspace"])
    assert bad.exit_code != 0


def test_sources_set_gives_a_brand_platform_options(env) -> None:  # type: ignore[no-untyped-def]
    from careline.models import BrandQuery

    ok = runner.invoke(app, ["sources", "set", "reddit", "--brand", "acme air", "-o", "own_subreddits=AcmeAir",
                             "-o", "subreddits=travel+flights"])
    assert ok.exit_code == 0, ok.output
    runner.invoke(app, ["sources", "set", "reddit", "--brand", "Acme Air", "-o", "subreddits="])
    engine = get_engine(settings_module.get_settings().url)
    with Session(engine) as s:
        bq = s.exec(select(BrandQuery).where(BrandQuery.platform == "reddit")).one()
        from careline.services.brands import queries_for

        (_, query), *_ = queries_for(s, "reddit")
    assert bq.options == {"own_subreddits": "AcmeAir"}
    assert query.option("own_subreddits") == "AcmeAir" and query.option("subreddits") is None
    missing = runner.invoke(app, ["sources", "set", "reddit", "--brand", "Nope", "-o", "a=b"])
    assert missing.exit_code != 0


def test_collect_once_keeps_going_past_a_source_with_bad_credentials(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CARELINE_SOURCES", '["x", "hackernews"]')
    settings_module.get_settings.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add(responses.GET, X_SEARCH, json=payload("x_401.json"), status=401)
        for page in ("hn_page0.json", "hn_page1.json"):
            http.add(responses.GET, "https://hn.algolia.com/api/v1/search_by_date", json=payload(page))
        result = runner.invoke(app, ["collect", "--once"])
    assert result.exit_code == 1  # one source failed...
    assert "X rejected the credentials (401 Unauthorized)" in result.output
    assert re.search(r"hackernews: \d+ page\(s\), \d+ seen, [1-9]\d* new", result.output)  # ...the other one still ran
    listed = runner.invoke(app, ["sources"])
    assert "FAILING" in listed.output
