"""The scheduler with its persistent job store: a collect job fires, runs, and records a CollectorRun."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from careline import jobs
from careline.db import create_all, get_engine
from careline.models import CollectorRun, Mention, SourceState
from careline.scheduler import JOB_TABLE, build_scheduler
from careline.services import brands
from careline.settings import Settings, get_settings


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Jobs read settings from the environment (the scheduler stores only the job's name and args)."""
    url = f"sqlite:///{tmp_path / 'sched.db'}"
    for key, value in {"CARELINE_DATABASE_URL": url, "CARELINE_DATA_DIR": str(tmp_path), "CARELINE_MODEL": "lexicon",
                       "CARELINE_SOURCES": '["demo"]', "CARELINE_CONFIG": str(tmp_path / "none.toml")}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    engine = get_engine(settings.url)
    create_all(engine)
    with Session(engine) as session:
        brands.sync_from_settings(session, settings.brands)
    yield settings
    get_settings.cache_clear()


def test_scheduler_runs_a_collect_job_and_records_the_run(app_settings: Settings) -> None:
    engine = get_engine(app_settings.url)
    sched = build_scheduler(app_settings, roles=("collect",))
    sched.start()
    try:
        job = sched.get_job("collect:demo")
        assert job is not None and job.max_instances == 1 and job.coalesce
        sched.modify_job("collect:demo", next_run_time=datetime.now(timezone.utc))
        deadline = time.monotonic() + 30
        runs: list[CollectorRun] = []
        while time.monotonic() < deadline:
            with Session(engine) as s:
                runs = [r for r in s.exec(select(CollectorRun)) if r.finished_at is not None]
            if len(runs) >= 2:  # one per demo brand
                break
            time.sleep(0.1)
    finally:
        sched.shutdown(wait=True)
    assert len(runs) == 2 and all(r.source == "demo" and r.error is None and r.items_new > 0 for r in runs)
    with Session(engine) as s:
        assert s.exec(select(sa.func.count()).select_from(Mention)).one() == sum(r.items_new for r in runs)
    with engine.connect() as conn:  # the job lives in the app database, not in memory
        stored = {row[0] for row in conn.execute(sa.text(f"SELECT id FROM {JOB_TABLE}"))}
    assert "collect:demo" in stored


def test_a_source_dropped_from_settings_loses_its_stored_job(app_settings: Settings) -> None:
    first = build_scheduler(app_settings, roles=("collect",))
    first.start(paused=True)  # stores collect:demo
    first.shutdown(wait=False)
    engine = get_engine(app_settings.url)
    narrowed = app_settings.model_copy(update={"sources": ["hackernews"]})
    sched = build_scheduler(narrowed, roles=("collect",))
    sched.start(paused=True)
    try:
        assert {j.id for j in sched.get_jobs()} == {"collect:hackernews"}
    finally:
        sched.shutdown(wait=False)
    with engine.connect() as conn:
        assert {r[0] for r in conn.execute(sa.text(f"SELECT id FROM {JOB_TABLE}"))} == {"collect:hackernews"}


def test_a_leader_scheduler_drops_stored_queue_jobs_that_workers_consume(app_settings: Settings) -> None:
    old = build_scheduler(app_settings)  # every role: collect, classify, send, report
    old.start(paused=True)
    old.shutdown(wait=False)
    leader = build_scheduler(app_settings, roles=("collect", "report"))
    leader.start(paused=True)
    try:
        assert {j.id for j in leader.get_jobs()} == {"collect:demo", "weekly_export", "alerts", "customer_links", "care"}
    finally:
        leader.shutdown(wait=False)


def test_a_source_that_cannot_be_built_is_recorded_not_raised(app_settings: Settings) -> None:
    engine = get_engine(app_settings.url)
    broken = app_settings.model_copy(update={"x_bearer_token": None})
    assert jobs.collect_source("x", broken, engine) == 0
    with Session(engine) as s:
        run = s.exec(select(CollectorRun)).one()
        states = s.exec(select(SourceState)).all()
    assert "CARELINE_X_BEARER_TOKEN" in (run.error or "")
    assert states and all(not st.healthy for st in states)


def test_run_now_is_a_request_the_scheduler_leader_runs(app_settings: Settings) -> None:
    from careline.models import AuditEvent, SourceRunRequest
    from careline.scheduler import start_requested_runs
    from careline.services import sources

    engine = get_engine(app_settings.url)
    with Session(engine) as s:
        sources.request_run(s, "demo", "kim", app_settings.sources)
        sources.request_run(s, "demo", "lee", app_settings.sources)  # a second click: still one run
        with pytest.raises(Exception, match="not enabled"):
            sources.request_run(s, "x", "kim", app_settings.sources)
        assert [e.actor for e in s.exec(select(AuditEvent).where(AuditEvent.action == "source_run"))] == ["kim", "lee"]
        assert sources.health(s, app_settings.sources)[0].run_requested is not None
    sched = build_scheduler(app_settings, roles=("collect",))
    sched.start()
    try:
        assert start_requested_runs(sched, engine) == ["demo"]
        assert start_requested_runs(sched, engine) == []  # handed over once
        deadline = time.monotonic() + 30
        runs: list[CollectorRun] = []
        while time.monotonic() < deadline and len(runs) < 2:
            with Session(engine) as s:
                runs = [r for r in s.exec(select(CollectorRun)) if r.finished_at is not None]
            time.sleep(0.1)
    finally:
        sched.shutdown(wait=True)
    assert len(runs) == 2 and all(r.items_new > 0 for r in runs)
    with Session(engine) as s:
        assert s.exec(select(SourceRunRequest)).first() is None
        assert sources.health(s, app_settings.sources)[0].status == sources.HEALTHY
