"""X budget (careline/services/budgets.py): post reads counted from real tweepy responses (recorded pages
served by `responses`), the cost estimate, one alert at the configured share, a stop at the budget with one
message, and the plan's limits from GET /2/usage/tweets (a 403 tolerated)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import responses
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import Alert, PlatformUsage, SourceState
from careline.services import budgets
from careline.services.budgets import Budget
from careline.services.collection import collect
from collectors.x import XSource
from tests.collectors.conftest import X_SEARCH, add_brand, payload, x_client

USAGE = "https://api.twitter.com/2/usage/tweets"
NOW = datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc)


def pages(http: responses.RequestsMock, *names: str) -> None:
    for name in names:
        http.add(responses.GET, X_SEARCH, json=payload(name))


def test_reads_are_counted_per_month_with_cost_and_an_alert_at_the_share(engine: Engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, USAGE, status=403, json={"title": "Forbidden", "detail": "not on this plan"})
    pages(http, "x_search_page1.json", "x_search_page2.json", "x_search_page3.json")  # 3 + 2 + 1 posts
    budget = Budget("x", monthly_posts=7, price_per_post=0.005, alert_share=0.8)
    summary = collect(engine, XSource(x_client()), budget=budget, now=NOW)
    assert summary.errors == [] and summary.new == 6
    with Session(engine) as session:
        row = session.get(PlatformUsage, ("x", "2026-12"))
        alerts = list(session.exec(select(Alert).where(Alert.kind == "x_budget")))
        line = budgets.describe(session, budget, NOW)
    assert row is not None and row.reads == 6 and row.calls == 3 and row.plan_cap is None
    assert row.plan_checked_at is not None  # the 403 was tolerated and remembered for an hour
    assert len(alerts) == 1 and "6 of its 7 post reads for 2026-12 (86%)" in alerts[0].message
    assert line == "6 post reads this month of 7 (86%), about 0.03 USD at 0.005 per post"


def test_collection_stops_at_the_budget_with_one_message_until_next_month(engine: Engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, USAGE, status=403, json={})
    pages(http, "x_search_page1.json", "x_search_page2.json", "x_search_page3.json")
    budget = Budget("x", monthly_posts=5, price_per_post=0.01)
    summary = collect(engine, XSource(x_client()), budget=budget, now=NOW)
    searches = [c for c in http.calls if c.request.url.startswith(X_SEARCH)]
    assert len(searches) == 2  # 3 + 2 posts reach the budget: the third page is never asked for
    message = ("The X budget for 2026-12 is used up: 5 of 5 post reads, about 0.05 USD at 0.01 per post. "
               "X collection is stopped until 01 Jan 2027 00:00 UTC; raise CARELINE_X_MONTHLY_POST_BUDGET to "
               "go on sooner.")
    assert summary.stopped == message and summary.errors == [message]
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "x")).one()
    assert state.paused_reason == message and state.paused_until == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert state.healthy  # a budget stop is a pause, not a failure


def test_plan_limits_from_the_usage_endpoint_lower_the_limit(engine: Engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, USAGE, json={"data": {"cap_reset_day": 19, "project_cap": "10000",
                                                  "project_usage": "9997", "project_id": "1"}})
    pages(http, "x_search_page1.json", "x_search_page2.json")
    budget = Budget("x", monthly_posts=1000)
    summary = collect(engine, XSource(x_client()), budget=budget, now=NOW)
    assert summary.stopped is not None and "3 of 3 post reads" in summary.stopped  # only 3 left on the plan
    with Session(engine) as session:
        line = budgets.describe(session, budget, NOW)
    assert line == "3 post reads this month of 3 (100%); plan: 9,997 of 10,000 used, resets on day 19"
    usage_call = next(c for c in http.calls if c.request.url.startswith(USAGE))
    assert usage_call.request.headers["Authorization"] == "Bearer test-bearer-token"


def test_no_budget_counts_reads_and_never_stops(engine: Engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, USAGE, status=503, json={})
    pages(http, "x_search_page1.json", "x_search_page2.json", "x_search_page3.json")
    summary = collect(engine, XSource(x_client()), budget=Budget("x"), now=NOW)
    assert summary.stopped is None and summary.new == 6
    with Session(engine) as session:
        assert budgets.describe(session, Budget("x"), NOW) == "6 post reads this month"


def test_the_budget_follows_settings_and_only_x_has_one(settings) -> None:  # type: ignore[no-untyped-def]
    cfg = settings.model_copy(update={"x_monthly_post_budget": 10_000, "x_price_per_post": 0.005})
    assert Budget.for_source("x", cfg) == Budget("x", 10_000, 0.005, 0.8)
    assert Budget.for_source("reddit", cfg) is None
    assert budgets.next_month(datetime(2026, 12, 31, 23, tzinfo=timezone.utc)) == datetime(2027, 1, 1,
                                                                                           tzinfo=timezone.utc)


@pytest.fixture
def http():  # type: ignore[no-untyped-def]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_careline_sources_prints_the_x_budget(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from careline import settings as settings_module
    from careline.cli import app
    from careline.db import get_engine

    monkeypatch.setenv("CARELINE_X_MONTHLY_POST_BUDGET", "10000")
    monkeypatch.setenv("CARELINE_X_PRICE_PER_POST", "0.005")
    settings_module.get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with Session(get_engine(settings_module.get_settings().url)) as session:
        budgets.record_reads(session, Budget("x", 10_000, 0.005), 9_000, 90)
        session.commit()
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0, result.output
    assert "X budget: 9,000 post reads this month of 10,000 (90%), about 45.00 USD at 0.005 per post" in result.output


def test_record_reads_counts_in_one_update_and_a_held_row_reads_the_new_count(any_engine: Engine) -> None:
    budget = Budget("x", monthly_posts=100)
    with Session(any_engine) as session:
        assert budgets.exhausted(session, budget, NOW) is None  # no row this month: nothing used up
        budgets.record_reads(session, budget, 60, 1, NOW)  # the month's first read makes the row
        held = budgets.usage(session, "x", NOW)
        budgets.record_reads(session, budget, 40, 1, NOW)
        assert (held.reads, held.calls) == (100, 2)  # expired by the Core write, read again
        session.commit()
        message = budgets.exhausted(session, budget, NOW)
        alerts = session.exec(select(Alert).where(Alert.kind == "x_budget")).all()
    assert message is not None and message.startswith("The X budget for 2026-12 is used up: 100 of 100")
    assert len(alerts) == 1 and "100 of its 100 post reads" in alerts[0].message  # the 80% share, crossed once
