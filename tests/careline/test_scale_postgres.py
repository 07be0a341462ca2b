"""Several worker processes on one real PostgreSQL: nothing classified twice, nothing lost, one scheduler.

Each test starts real `careline worker` processes (subprocesses) against a fresh schema.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.db import create_all
from careline.models import CollectorRun
from careline.services import brands as brand_service
from careline.services.ingest import ingest
from careline.settings import BrandConfig
from tests.conftest import make_raw

pytestmark = pytest.mark.postgres
IDS_RE = re.compile(r"stored labels for ids ([\d,]+)")


def _schema_url(engine: Engine) -> str:
    with engine.connect() as conn:  # the fixture's fresh schema is first on the search_path
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    base = os.environ["CARELINE_TEST_POSTGRES_URL"]
    return f"{base}?options=-csearch_path%3D{schema}"


def _start(tmp: Path, name: str, url: str, role: str, **env: str) -> subprocess.Popen:
    data = tmp / name
    data.mkdir()
    full = {**os.environ, "CARELINE_DATABASE_URL": url, "CARELINE_DATA_DIR": str(data), "CARELINE_MODEL": "lexicon",
            "CARELINE_SOURCES": '["demo"]', **env}
    return subprocess.Popen([sys.executable, "-m", "careline.cli", "--verbose", "worker", "--role", role],
                            cwd=tmp, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def _count(engine: Engine, where: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM mention WHERE {where}")).scalar_one())


def test_three_classify_workers_each_mention_once_even_when_one_is_killed(pg_engine: Engine, tmp_path: Path) -> None:
    create_all(pg_engine)
    with Session(pg_engine) as s:
        for start in range(0, 20_000, 5_000):
            ingest(s, [make_raw(external_id=f"q{i}", text=f"mention {i} lost my bag") for i in range(start, start + 5_000)])
    url = _schema_url(pg_engine)
    env = {"CARELINE_CLASSIFY_BATCH_SIZE": "200", "CARELINE_QUEUE_LEASE_SECONDS": "5"}
    procs = [_start(tmp_path, f"w{i}", url, "classify", **env) for i in range(3)]
    try:
        deadline = time.monotonic() + 60
        while _count(pg_engine, "classified_at IS NOT NULL") < 3_000 and time.monotonic() < deadline:
            time.sleep(0.2)
        procs[0].send_signal(signal.SIGKILL)  # mid-batch: its claimed rows stay leased until expiry
        procs[0].wait()
        deadline = time.monotonic() + 240
        while _count(pg_engine, "classified_at IS NULL") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _count(pg_engine, "classified_at IS NULL") == 0, "some mentions were never classified"
    finally:
        _stop(procs)
    stored: list[int] = []
    for i in range(3):
        for match in IDS_RE.finditer((tmp_path / f"w{i}" / "careline.log").read_text()):
            stored.extend(int(x) for x in match.group(1).split(","))
    assert len(stored) == len(set(stored)), "a mention was labelled twice"
    assert len(stored) >= 20_000 - 200  # the killed worker may have committed one batch it never logged
    assert _count(pg_engine, "lease_owner IS NOT NULL") == 0


def test_two_schedulers_fire_each_job_once_and_a_dead_leader_is_replaced(pg_engine: Engine, tmp_path: Path) -> None:
    create_all(pg_engine)
    with Session(pg_engine) as s:
        brand_service.sync_from_settings(s, [BrandConfig(name="Acme Air", keywords=["acme air"])])
    url = _schema_url(pg_engine)
    interval_s = 3.0
    env = {"CARELINE_COLLECT_INTERVAL_MINUTES": str(interval_s / 60), "CARELINE_LEADER_RETRY_SECONDS": "1"}
    procs = [_start(tmp_path, f"s{i}", url, "collect", **env) for i in range(2)]
    def starts() -> list:
        with Session(pg_engine) as s:
            return sorted(r.started_at for r in s.query(CollectorRun).all())

    try:
        deadline = time.monotonic() + 90  # workers start slowly on a busy machine
        while len(starts()) < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        seen = starts()
        assert len(seen) >= 4, "the schedule did not fire"
        gaps = [(b - a).total_seconds() for a, b in zip(seen, seen[1:])]
        assert min(gaps) > interval_s * 0.6, f"two schedulers fired the same job: gaps {gaps}"
        leader = next(i for i in range(2) if "is now the scheduler leader" in (tmp_path / f"s{i}" / "careline.log").read_text())
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        killed_at = time.time()
        deadline = time.monotonic() + 30  # one retry (1 s) + one interval (3 s), with room for a busy machine
        while not [t for t in starts() if t.timestamp() > killed_at] and time.monotonic() < deadline:
            time.sleep(0.5)
        later = [t for t in starts() if t.timestamp() > killed_at]
        assert later, "no worker took over the schedule after the leader died"
        assert later[0].timestamp() - killed_at < interval_s + 1 + 20
        assert "is now the scheduler leader" in (tmp_path / f"s{1 - leader}" / "careline.log").read_text()
    finally:
        _stop(procs)
    assert _count(pg_engine, "true") > 0
