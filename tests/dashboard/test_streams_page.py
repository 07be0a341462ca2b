"""The Sources page shows a real-time stream's state, events per minute and lag (careline/services/streams.py)."""
from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.services import streams as stream_service
from careline.settings import get_settings
from collectors.stream import StreamBatch, StreamStats


def test_sources_shows_stream_lag_and_events_per_minute(page, dash_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELINE_STREAMS", '["jetstream"]')
    get_settings.cache_clear()
    stats = StreamStats(url="ws://127.0.0.1:6008/subscribe")
    batch = StreamBatch(events=120, cursor="1764000000000000", newest_event_s=None)
    stats.add(batch)
    stats.lag_s = 1.25
    with Session(dash_db) as session:
        stream_service.set_state(session, "jetstream", "worker-1", connected=True, message=None,
                                 url=stats.url, encoding="plain JSON")
        stream_service.store_batch(session, "jetstream", batch, {}, stats, "worker-1", "bluesky")
    at = page("sources", role="agent")
    assert any("jetstream" in m.value and "streaming" in m.value and "not enabled" not in m.value
               for m in at.markdown)
    line = next(t.value for t in at.text if t.value.startswith("Stream:"))
    assert "events/min" in line and "lag 1.2 s" in line and "connected to ws://127.0.0.1:6008/subscribe" in line
    assert at.button(key="run_jetstream").disabled  # streams are not "run now": they run all the time


def test_a_stream_that_cannot_connect_shows_failing_with_its_sentence(page, dash_db: Engine) -> None:
    with Session(dash_db) as session:
        stream_service.set_state(session, "jetstream", "worker-1", connected=False,
                                 message="Cannot connect to Jetstream (4 instance(s) tried).")
    at = page("sources", role="agent")
    assert any("jetstream" in m.value and "failing" in m.value for m in at.markdown)
    assert any("Cannot connect to Jetstream (4 instance(s) tried)." in t.value for t in at.text)


def test_sources_shows_the_x_budget_and_its_cost(page, dash_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from careline.services import budgets

    monkeypatch.setenv("CARELINE_SOURCES", '["demo", "x"]')
    monkeypatch.setenv("CARELINE_X_BEARER_TOKEN", "test-bearer-token")
    monkeypatch.setenv("CARELINE_X_MONTHLY_POST_BUDGET", "10000")
    monkeypatch.setenv("CARELINE_X_PRICE_PER_POST", "0.005")
    get_settings.cache_clear()
    with Session(dash_db) as session:
        budgets.record_reads(session, budgets.Budget("x", 10_000, 0.005), 2_500, 25)
        session.commit()
    at = page("sources", role="agent")
    assert any(t.value == "Budget: 2,500 post reads this month of 10,000 (25%), about 12.50 USD at 0.005 per post"
               for t in at.text)
