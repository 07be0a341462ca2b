"""`careline worker`: queue consumers (classify, send), a leader-elected scheduler (collect, report) and
the real-time streams (stream; one consumer per stream, see careline/streams.py).

Any number of workers may run against one PostgreSQL database: classification and sending are leased
work queues, and only the worker holding the leader lease runs the scheduler, so each job fires once.
If the leader dies, another worker takes over within one retry interval.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.coordination import LeaderLease, worker_id
from careline.services import queue
from careline.settings import Settings

log = logging.getLogger(__name__)
ROLES = ("collect", "classify", "send", "report", "stream")


def parse_roles(text: str) -> set[str]:
    roles = {r.strip() for r in text.split(",") if r.strip()}
    if "all" in roles:
        return set(ROLES)
    unknown = roles - set(ROLES)
    if unknown or not roles:
        from careline.errors import ConfigError

        raise ConfigError(f"Unknown worker role {', '.join(sorted(unknown)) or '(none)'}; use collect, classify, send, report, stream or all.")
    return roles


def leader_loop(settings: Settings, engine: Engine, roles: Iterable[str], stop: threading.Event,
                owner: str, retry_seconds: float = 5.0, ttl_seconds: int = 30) -> None:
    from careline.scheduler import build_scheduler, start_requested_runs

    lease = LeaderLease(engine, "scheduler", owner, ttl_seconds=ttl_seconds)
    sched = None
    sched_roles = tuple(r for r in roles if r in ("collect", "report"))
    try:
        while not stop.is_set():
            held = lease.try_acquire()
            if held and sched is None:
                log.info("%s is now the scheduler leader", owner)
                sched = build_scheduler(settings, roles=sched_roles)
                sched.start()
            elif not held and sched is not None:
                log.warning("%s lost scheduler leadership; stopping its scheduler", owner)
                sched.shutdown(wait=False)
                sched = None
            if sched is not None and "collect" in sched_roles:
                try:
                    start_requested_runs(sched, engine)
                except Exception:  # noqa: BLE001 - the request stays for the next tick; the leader carries on
                    log.exception("handing the requested source runs to the scheduler failed")
            stop.wait(retry_seconds)
    finally:
        if sched is not None:
            sched.shutdown(wait=False)
        lease.release()


def classify_loop(settings: Settings, engine: Engine, stop: threading.Event, owner: str,
                  poll_seconds: float = 2.0, lease_seconds: int = queue.DEFAULT_LEASE_SECONDS) -> None:
    from careline.factory import build_classifier

    classifier = build_classifier(settings)
    while not stop.is_set():
        try:
            with Session(engine, expire_on_commit=False) as session:
                queue.drain(session, classifier, batch_size=settings.classify_batch_size, owner=owner,
                            lease_seconds=lease_seconds, low_confidence=settings.low_confidence,
                            stop=stop.is_set)
        except Exception:  # noqa: BLE001 - keep the worker alive; the lease hands the batch on
            log.exception("classification batch failed")
        stop.wait(poll_seconds)  # drained: look again in a moment


def send_loop(settings: Settings, engine: Engine, stop: threading.Event, poll_seconds: float = 2.0) -> None:
    from careline import jobs

    while not stop.is_set():
        sent = jobs.send_queued(settings, engine)
        if not sent:
            stop.wait(poll_seconds)


def run_worker(settings: Settings, engine: Engine, roles: set[str], stop: threading.Event | None = None) -> None:
    """Run the chosen roles until `stop` is set (or SIGTERM/SIGINT in the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    owner = worker_id("worker")
    threads: list[threading.Thread] = []
    if roles & {"collect", "report"}:
        threads.append(threading.Thread(target=leader_loop, name="leader",
                                        args=(settings, engine, roles, stop, owner, settings.leader_retry_seconds), daemon=True))
    if "classify" in roles:
        threads.append(threading.Thread(target=classify_loop, name="classify",
                                        args=(settings, engine, stop, owner, 2.0, settings.queue_lease_seconds), daemon=True))
    if "send" in roles:
        threads.append(threading.Thread(target=send_loop, name="send", args=(settings, engine, stop), daemon=True))
    if "stream" in roles and settings.streams:
        from careline.streams import stream_loop

        threads.append(threading.Thread(target=stream_loop, name="streams", args=(settings, engine, stop, owner),
                                        daemon=True))
    for t in threads:
        t.start()
    log.info("worker %s running roles %s", owner, ",".join(sorted(roles)))
    while not stop.is_set():
        stop.wait(1.0)
    for t in threads:
        t.join(timeout=10)
