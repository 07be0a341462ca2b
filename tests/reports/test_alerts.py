"""Alerts: spikes fire on a synthetic storm and stay quiet on noise; dedup; delivery through apprise to a
local HTTP server; failures are recorded and retried later. No network: 127.0.0.1 only."""
from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from careline.errors import CarelineError
from careline.models import Alert, Brand
from careline.reports.alerts import AlertRules, list_alerts, run_checks
from careline.settings import Settings
from tests.reports.helpers import add, brands, mention, utc

NOW = utc(2026, 11, 20, 12, 30)
DEAD = "json://127.0.0.1:1/hook"  # nothing listens on port 1: connection refused, at once


def _noise(session: Session, brand: Brand, seed: int, days: int = 16) -> None:
    rng = random.Random(seed)
    rows = []
    start = NOW - timedelta(days=days)
    for hour in range(days * 24):
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            at = start + timedelta(hours=hour, minutes=rng.uniform(0, 59))
            complaint = rng.random() < 0.35
            rows.append(mention(brand, at, "negative" if complaint else "neutral",
                                "complaint" if complaint else "question"))
    add(session, *rows)


def _storm(session: Session, brand: Brand, n: int = 30) -> None:
    add(session, *[mention(brand, NOW - timedelta(hours=2, minutes=i), "negative", "complaint",
                           text="Acme Air lost all our bags") for i in range(n)])


def _with_urls(settings: Settings, *urls: str) -> Settings:
    return settings.model_copy(update={"alert_urls": [SecretStr(u) for u in urls]})


def test_spike_fires_once_per_storm(settings: Settings, any_engine: Engine) -> None:
    engine = any_engine
    with Session(engine, expire_on_commit=False) as session:
        own, rival = brands(session)
        _noise(session, own, seed=1)
        _noise(session, rival, seed=2)
        _storm(session, own)
        _storm(session, rival)  # competitors' storms are theirs: no page
    result = run_checks(settings, engine, now=NOW)
    kinds = sorted(a.kind for a in result.new)
    assert kinds == ["complaint_spike", "volume_spike"]
    assert all(a.brand_id == own.id for a in result.new)
    volume = next(a for a in result.new if a.kind == "volume_spike")
    assert volume.detail["window_start"] == "2026-11-20T09:00:00+00:00" and volume.detail["count"] >= 30
    assert "Acme Air" in volume.message
    again = run_checks(settings, engine, now=NOW + timedelta(minutes=15))
    assert again.new == []
    with Session(engine, expire_on_commit=False) as session:
        assert len(session.exec(select(Alert)).all()) == 2
        assert [a.kind for a in list_alerts(session)] and len(list_alerts(session)) == 2


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_noise_stays_quiet(settings: Settings, engine: Engine, seed: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        _noise(session, own, seed=seed)
    assert run_checks(settings, engine, now=NOW).new == []


def test_a_few_mentions_at_night_page_nobody(settings: Settings, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session, *[mention(own, NOW - timedelta(hours=1, minutes=i), "negative", "complaint") for i in range(6)])
    assert run_checks(settings, engine, now=NOW).new == []
    lower = AlertRules(min_count=5)
    assert "volume_spike" in {a.kind for a in run_checks(settings, engine, now=NOW, rules=lower).new}


def test_high_reach_complaint_alerts_once(settings: Settings, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session,
            mention(own, NOW - timedelta(hours=3), "negative", "complaint", author_followers=250_000,
                    author_handle="celeb", text="@AcmeAir <!channel> you lost my guitar"),
            mention(own, NOW - timedelta(hours=3), "positive", "praise", author_followers=900_000),
            mention(own, NOW - timedelta(hours=3), "negative", "complaint", author_followers=300))
    first = run_checks(settings, engine, now=NOW)
    assert [a.kind for a in first.new] == ["vip_complaint"]
    assert "celeb" in first.new[0].message and "250,000 followers" in first.new[0].message
    assert run_checks(settings, engine, now=NOW + timedelta(hours=1)).new == []


def test_delivery_through_apprise_to_a_local_webhook(settings: Settings, engine: Engine, hook) -> None:  # type: ignore[no-untyped-def]
    url, received = hook
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session, mention(own, NOW - timedelta(hours=1), "negative", "complaint", author_followers=50_000,
                             author_handle="celeb", text="<!channel> @everyone lost bags"))
    result = run_checks(_with_urls(settings, url), engine, now=NOW)
    assert result.delivery.delivered == 1 and result.delivery.failed == 0
    assert len(received) == 1
    assert "complaint from celeb" in received[0]["title"]
    assert "<!channel>" not in received[0]["message"] and "‹!channel›" in received[0]["message"]
    assert run_checks(_with_urls(settings, url), engine, now=NOW + timedelta(hours=1)).delivery.delivered == 0
    assert len(received) == 1  # delivered alerts are never sent again
    with Session(engine, expire_on_commit=False) as session:
        alert = session.exec(select(Alert)).one()
        assert alert.delivered_at is not None and alert.delivery_attempts == 1


def test_failed_delivery_is_reported_and_retried_later(settings: Settings, engine: Engine, hook) -> None:  # type: ignore[no-untyped-def]
    url, received = hook
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session, mention(own, NOW - timedelta(hours=1), "negative", "complaint", author_followers=50_000))
    first = run_checks(_with_urls(settings, url, DEAD), engine, now=NOW)
    assert first.delivery.failed == 1 and first.delivery.errors == ["alert URL #2 of 2"]
    assert len(received) == 1
    with Session(engine, expire_on_commit=False) as session:
        alert = session.exec(select(Alert)).one()
        assert alert.delivered_at is None and alert.delivery_attempts == 1
        # the project's backoff: at least 5 min, at most 10 (jittered)
        assert re.fullmatch(r"alert URL #2 failed; retrying in (5|6|7|8|9|10) min", alert.delivery_error or "")
        assert DEAD not in alert.delivery_error  # URLs are secrets
    # too early: backoff (and the rate limit) hold it back
    early = run_checks(_with_urls(settings, url, DEAD), engine, now=NOW + timedelta(minutes=2))
    assert early.delivery.failed == 0 and early.delivery.delivered == 0
    # the second channel is fixed; the retry goes only where it had failed
    later = run_checks(_with_urls(settings, url, url), engine, now=NOW + timedelta(minutes=20))
    assert later.delivery.delivered == 1
    assert len(received) == 2
    with Session(engine, expire_on_commit=False) as session:
        alert = session.exec(select(Alert)).one()
        assert alert.delivered_at is not None and alert.delivery_error is None and alert.delivery_attempts == 2


def test_delivery_gives_up_after_max_attempts(settings: Settings, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session, mention(own, NOW - timedelta(hours=1), "negative", "complaint", author_followers=50_000))
    rules = AlertRules(max_attempts=2, min_interval_minutes=0, retry_minutes=1)
    s = _with_urls(settings, DEAD)
    run_checks(s, engine, now=NOW, rules=rules)
    run_checks(s, engine, now=NOW + timedelta(minutes=5), rules=rules)
    third = run_checks(s, engine, now=NOW + timedelta(minutes=30), rules=rules)
    assert third.delivery.failed == 0
    with Session(engine, expire_on_commit=False) as session:
        alert = session.exec(select(Alert)).one()
        assert alert.delivery_attempts == 2 and alert.delivery_error.startswith("gave up after 2 attempts")


def test_alerts_command_reports_failed_delivery_in_one_sentence(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from careline import settings as settings_module
    from careline.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARELINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CARELINE_ALERT_URLS", json.dumps([DEAD]))
    settings_module.get_settings.cache_clear()
    try:
        from careline.db import create_all, get_engine

        engine = get_engine(settings_module.get_settings().url)
        create_all(engine)
        with Session(engine, expire_on_commit=False) as session:
            own, _ = brands(session)
            add(session, mention(own, datetime.now().astimezone() - timedelta(hours=1), "negative", "complaint",
                                 author_followers=50_000))
        result = CliRunner().invoke(app, ["alerts", "--check"])
    finally:
        settings_module.get_settings.cache_clear()
    assert isinstance(result.exception, CarelineError)
    message = str(result.exception)
    assert message == ("1 alert(s) could not be delivered (alert URL #1 of 1 refused or was unreachable); "
                       "they are stored and will be retried on the next check.")
    assert "vip_complaint" in result.output


def test_weekly_report_is_sent_with_attachments_when_asked(settings: Settings, engine: Engine, hook, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from careline.reports.weekly import export_last_week
    from careline.services import app_settings

    url, received = hook
    s = _with_urls(settings, url).model_copy(update={"export_dir": tmp_path / "out"})
    export_last_week(s, engine, now=NOW)
    assert received == []  # not asked yet
    with Session(engine) as session:
        app_settings.put(session, "send_weekly_report", True)
    export_last_week(s, engine, now=NOW)
    assert len(received) == 1 and received[0]["title"] == "Careline report 2026-W46"
    names = sorted(a["filename"] for a in received[0]["attachments"])
    assert names == ["careline-2026-W46.html", "careline-2026-W46.xlsx"]


def test_old_undelivered_alerts_do_not_page_when_a_url_is_added(settings: Settings, engine: Engine, hook) -> None:  # type: ignore[no-untyped-def]
    from careline.services.delivery import deliver_pending

    url, received = hook
    with Session(engine, expire_on_commit=False) as session:
        session.add(Alert(kind="vip_complaint", dedup_key="old", message="old news", created_at=NOW - timedelta(days=3)))
        session.add(Alert(kind="vip_complaint", dedup_key="new", message="fresh", created_at=NOW - timedelta(hours=1)))
        session.commit()
        result = deliver_pending(session, [url], NOW)
    assert result.delivered == 1 and [r["title"] for r in received] == ["Careline: fresh"]


def test_acknowledge_is_audited(settings: Settings, engine: Engine) -> None:
    from careline.errors import NotFound
    from careline.models import AuditEvent
    from careline.reports.alerts import acknowledge

    with Session(engine, expire_on_commit=False) as session:
        session.add(Alert(kind="vip_complaint", dedup_key="k", message="m"))
        session.commit()
        alert = acknowledge(session, 1, "agent")
        assert alert.acknowledged_by == "agent"
        assert list_alerts(session, include_acknowledged=False) == []
        event = session.exec(select(AuditEvent)).one()
        assert (event.actor, event.action, event.detail["alert_id"]) == ("agent", "alert_ack", 1)
        with pytest.raises(NotFound):
            acknowledge(session, 99, "agent")


def test_vip_complaints_with_equal_reach_keep_the_newest_at_the_limit(any_engine: Engine) -> None:
    from careline.reports.alerts import detect_vip_complaints

    with Session(any_engine) as session:
        own, _rival = brands(session)
        add(session, *[mention(own, NOW - timedelta(minutes=30 - i), "negative", "complaint", author_handle=f"big{i}",
                               author_followers=50_000) for i in range(23)])
        found = detect_vip_complaints(session, NOW, AlertRules())
        ids = [a.mention_id for a in found]
        assert len(ids) == 20 and ids == sorted(ids, reverse=True)
        assert min(ids) == max(ids) - 19  # the three oldest are the ones left out
