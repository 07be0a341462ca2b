"""Plain functions the scheduler (and the CLI) call. Each logs and carries on; none raises."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.db import get_engine
from careline.errors import CarelineError
from careline.settings import Settings, get_settings

log = logging.getLogger(__name__)


def demo_anchor(engine: Engine) -> datetime | None:
    from careline.services import app_settings

    with Session(engine) as session:
        value = app_settings.get(session, "demo_anchor")
    return datetime.fromisoformat(value) if value else None


def collect_source(name: str, settings: Settings | None = None, engine: Engine | None = None) -> int:
    """Collect one source over every brand; then classify what arrived. Returns new mentions."""
    from careline.factory import build_source
    from careline.services.collection import collect

    settings = settings or get_settings()
    engine = engine or get_engine(settings.url)
    try:
        source = build_source(name, settings, demo_anchor=demo_anchor(engine))
    except Exception as exc:  # noqa: BLE001 - e.g. missing credentials: recorded so the dashboard shows it
        log.error("collect %s: cannot build the source: %s", name, exc)
        from careline.services.collection import record_setup_failure

        record_setup_failure(engine, name, str(exc))
        return 0
    try:
        from careline.services.budgets import Budget

        summary = collect(engine, source, budget=Budget.for_source(name, settings),
                          write_every=settings.collect_write_every)
    except Exception:  # noqa: BLE001
        log.exception("collect %s failed", name)
        return 0
    for err in summary.errors:
        log.warning("collect %s: %s", name, err)
    log.info("collect %s: %d seen, %d new", name, summary.seen, summary.new)
    if summary.new:
        classify_pending(settings, engine)
    return summary.new


def classify_pending(settings: Settings | None = None, engine: Engine | None = None, limit: int | None = None) -> int:
    from careline.factory import build_classifier
    from careline.services import queue

    settings = settings or get_settings()
    engine = engine or get_engine(settings.url)
    try:
        classifier = build_classifier(settings)
        with Session(engine, expire_on_commit=False) as session:
            return queue.drain(session, classifier, batch_size=settings.classify_batch_size, limit=limit,
                               low_confidence=settings.low_confidence, lease_seconds=settings.queue_lease_seconds)
    except CarelineError as exc:
        log.error("classification skipped: %s", exc)
        return 0
    except Exception:  # noqa: BLE001
        log.exception("classification failed")
        return 0


def send_queued(settings: Settings | None = None, engine: Engine | None = None) -> int:
    """Post queued replies (see careline.services.outbox)."""
    from careline.services.outbox import send_due

    settings = settings or get_settings()
    try:
        return send_due(settings, engine or get_engine(settings.url))
    except Exception:  # noqa: BLE001
        log.exception("sending replies failed")
        return 0


def weekly_export(settings: Settings | None = None) -> None:
    from careline.reports.weekly import export_last_week

    try:
        export_last_week(settings or get_settings())
    except Exception:  # noqa: BLE001
        log.exception("weekly export failed")


def check_alerts(settings: Settings | None = None) -> None:
    from careline.reports.alerts import run_checks

    try:
        run_checks(settings or get_settings())
    except Exception:  # noqa: BLE001
        log.exception("alert check failed")


def suggest_customer_links(settings: Settings | None = None, engine: Engine | None = None) -> int:
    """The incremental link-suggestion pass (identities touched since the last run); returns new suggestions."""
    from careline.services import customer_links

    try:
        with Session(engine or get_engine((settings or get_settings()).url)) as session:
            return customer_links.suggest(session).new
    except Exception:  # noqa: BLE001
        log.exception("customer link suggestions failed")
        return 0


def care_tick(settings: Settings | None = None, engine: Engine | None = None) -> None:
    """Every minute: refresh the time part of the inbox order, then run the escalation steps that are due."""
    from careline.services import priority

    settings = settings or get_settings()
    engine = engine or get_engine(settings.url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            priority.refresh_due(session)
    except Exception:  # noqa: BLE001
        log.exception("urgency refresh failed")
    try:
        from careline.services import escalation

        escalation.run(settings, engine)
    except Exception:  # noqa: BLE001
        log.exception("escalation scan failed")
