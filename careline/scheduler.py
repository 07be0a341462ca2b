"""APScheduler 3.x wiring: one job per enabled source, plus classify and send, in the app database.

Jobs are referenced by name ("careline.jobs:collect_source") so the persistent job store holds no
pickled objects; `max_instances=1` stops overlapping runs and `coalesce` folds missed runs into one.
The job store gets an engine of its own built like the app's (SQLite's WAL and busy timeout). A source removed from
CARELINE_SOURCES has its stored job deleted at the next start, so it stops being collected.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from careline.db import make_engine
from careline.settings import Settings

log = logging.getLogger(__name__)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
JOB_TABLE = "apscheduler_jobs"


def build_scheduler(settings: Settings, blocking: bool = False, roles: tuple[str, ...] = ("all",)) -> BaseScheduler:
    cls = BlockingScheduler if blocking else BackgroundScheduler
    # Its own engine (with the app's SQLite pragmas): the job store disposes of its engine at shutdown.
    engine = make_engine(settings.url)
    scheduler = cls(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        job_defaults=JOB_DEFAULTS,
        timezone="UTC",
    )
    planned = add_jobs(scheduler, settings, roles)  # pending until start(): nothing is written yet
    prune_stale_jobs(engine, keep=set(planned))
    return scheduler


def add_jobs(scheduler: BaseScheduler, settings: Settings, roles: tuple[str, ...] = ("all",)) -> list[str]:
    want = set(roles)
    every = "all" in want
    ids: list[str] = []
    if every or "collect" in want:
        for name in settings.sources:
            ids.append(f"collect:{name}")
            scheduler.add_job("careline.jobs:collect_source", "interval", args=[name], id=ids[-1],
                              name=f"collect {name}", minutes=settings.collect_interval_minutes,
                              replace_existing=True)
    if every or "classify" in want:
        ids.append("classify")
        scheduler.add_job("careline.jobs:classify_pending", "interval", id="classify", name="classify pending",
                          seconds=settings.classify_interval_seconds, replace_existing=True)
    if every or "send" in want:
        ids.append("send")
        scheduler.add_job("careline.jobs:send_queued", "interval", id="send", name="send queued replies",
                          seconds=settings.send_interval_seconds, replace_existing=True)
    if every or "report" in want:
        ids.append("weekly_export")
        scheduler.add_job("careline.jobs:weekly_export", "cron", id="weekly_export", name="weekly export",
                          day_of_week=settings.export_weekday, hour=settings.export_hour,
                          timezone=settings.timezone, replace_existing=True)
        ids.append("care")
        scheduler.add_job("careline.jobs:care_tick", "interval", id="care", name="urgency refresh and escalation",
                          seconds=settings.care_interval_seconds, replace_existing=True)
        ids.append("alerts")
        scheduler.add_job("careline.jobs:check_alerts", "interval", id="alerts", name="spike alerts",
                          minutes=15, replace_existing=True)
        ids.append("customer_links")
        scheduler.add_job("careline.jobs:suggest_customer_links", "interval", id="customer_links",
                          name="customer link suggestions", minutes=settings.customer_link_interval_minutes,
                          replace_existing=True)
    return ids


def prune_stale_jobs(engine: sa.Engine, keep: set[str]) -> list[str]:
    """Delete stored jobs this scheduler won't run: sources no longer enabled, and queue jobs (classify,
    send) that workers now consume directly (replace_existing only adds and updates)."""
    if not sa.inspect(engine).has_table(JOB_TABLE):
        return []
    table = sa.table(JOB_TABLE, sa.column("id"))
    with engine.begin() as conn:
        stale = [row[0] for row in conn.execute(sa.select(table.c.id)) if row[0] not in keep]
        if stale:
            conn.execute(sa.delete(table).where(table.c.id.in_(stale)))
    for job_id in stale:
        log.info("removed the stored job %s: this scheduler no longer runs it", job_id)
    return stale


def start_requested_runs(scheduler: BaseScheduler, engine: sa.Engine) -> list[str]:
    """Hand each "Run now" request (careline.services.sources) to its source's collect job: the job runs
    now, in the scheduler's pool, with its usual no-overlap guarantee. Returns the sources started."""
    from datetime import datetime, timezone

    from sqlmodel import Session

    from careline.services.sources import take_run_requests

    with Session(engine) as session:
        requests = take_run_requests(session)
    started = []
    for request in requests:
        job = scheduler.get_job(f"collect:{request.source}")
        if job is None:
            log.warning("run of %s requested by %s, but this scheduler does not collect it (CARELINE_SOURCES)",
                        request.source, request.requested_by)
            continue
        job.modify(next_run_time=datetime.now(timezone.utc))
        log.info("collecting %s now, as %s asked", request.source, request.requested_by)
        started.append(request.source)
    return started
