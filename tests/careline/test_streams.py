"""careline/streams.py: `careline worker --role stream` and `careline serve` consume a local Jetstream replay
(no network), and on PostgreSQL exactly one worker consumes a stream, another taking over when it dies."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.db import create_all, make_engine, migrate
from careline.models import Mention, StreamStatus
from careline.settings import Settings
from careline.workers import parse_roles, run_worker
from collectors.matcher import Rule
from collectors.replay import ReplayServer, jetstream_events
from tests.collectors.conftest import add_brand

ACME = Rule("Acme Air", terms=("acme air", "acmeair"), handles=("AcmeAir",))
ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine, where: object = None) -> int:
    with Session(engine) as session:
        stmt = sa.select(sa.func.count()).select_from(Mention)
        if where is not None:
            stmt = stmt.where(where)  # type: ignore[arg-type]
        return int(session.exec(stmt).one()[0])  # type: ignore[call-overload]


def owner(engine: Engine) -> str | None:
    with Session(engine) as session:
        status = session.get(StreamStatus, "jetstream")
        return status.owner if status is not None and status.connected else None


def env_for(tmp_path: Path, url: str, server: ReplayServer, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
            "CARELINE_DATA_DIR": str(tmp_path / "var"), "CARELINE_DATABASE_URL": url, "CARELINE_MODEL": "lexicon",
            "CARELINE_SOURCES": "[]", "CARELINE_STREAMS": '["jetstream"]',
            "CARELINE_JETSTREAM_URLS": json.dumps([server.url]), "CARELINE_LEADER_RETRY_SECONDS": "0.5",
            "CARELINE_STREAM_FLUSH_SECONDS": "0.1", "CARELINE_JETSTREAM_RESOLVE_HANDLES": "false", **extra}


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "careline.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the process group this test started (serve has a Streamlit child)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_stream_is_a_worker_role() -> None:
    assert "stream" in parse_roles("stream") and "stream" in parse_roles("all")


def test_worker_role_stream_consumes_a_local_replay_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    migrate(engine)
    add_brand(engine)
    events = list(jetstream_events(2000, [ACME], hit_rate=0.05, start_us=1_764_000_000_000_000))
    with ReplayServer(events) as server:
        proc = start(["worker", "--role", "stream"], env_for(tmp_path, url, server), tmp_path)
        try:
            wait_for(lambda: server.sent >= 2000 and count(engine) > 0 and _cursor_at_end(engine, events),
                     what="the worker to store the replay")
        finally:
            stop(proc)
        assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    stored = count(engine)
    assert stored > 50
    with Session(engine) as session:
        status = session.get(StreamStatus, "jetstream")
    assert status is not None and status.events_total >= 2000 and status.new_total == stored
    assert not status.connected  # the worker said it stopped


def _cursor_at_end(engine: Engine, events: list[str]) -> bool:
    from careline.services import streams

    with Session(engine) as session:
        return streams.cursor(session, "jetstream") == str(json.loads(events[-1])["time_us"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_streams_beside_the_dashboard_and_classifies_what_arrives(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = make_engine(url)
    migrate(engine)
    add_brand(engine)
    with ReplayServer(live_rate=40, rules=[ACME], hit_rate=0.2) as server:
        proc = start(["serve", "--port", str(_free_port())], env_for(tmp_path, url, server), tmp_path)
        try:
            wait_for(lambda: count(engine, Mention.classified_at.is_not(None)) >= 3,  # type: ignore[union-attr]
                     what="serve's stream runner to store and classify live posts")
        finally:
            stop(proc)
    with Session(engine) as session:
        rows = list(session.exec(select(Mention).where(Mention.classified_at.is_not(None))))  # type: ignore[union-attr]
    assert all(r.platform == "bluesky" and r.sentiment for r in rows)


def test_run_worker_in_process_stops_cleanly(settings: Settings, engine: Engine) -> None:
    add_brand(engine)
    with ReplayServer(list(jetstream_events(300, [ACME], hit_rate=0.2))) as server:
        cfg = settings.model_copy(update={"streams": ["jetstream"], "jetstream_urls": [server.url], "sources": [],
                                          "stream_flush_seconds": 0.05})
        halt = threading.Event()
        worker = threading.Thread(target=run_worker, args=(cfg, engine, {"stream"}, halt))
        worker.start()
        wait_for(lambda: count(engine) > 10, what="stored posts")
        halt.set()
        worker.join(20)
    assert not worker.is_alive()


@pytest.mark.postgres
def test_postgres_one_consumer_per_stream_and_takeover_when_it_dies(pg_engine: Engine, tmp_path: Path) -> None:
    migrate(pg_engine)
    add_brand(pg_engine)
    with pg_engine.connect() as conn:  # the test's own schema, for the workers' connections too
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    url = pg_engine.url.set(query={"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with ReplayServer(live_rate=40, rules=[ACME], hit_rate=0.2) as server:
        env = env_for(tmp_path, url, server)
        first = start(["worker", "--role", "stream"], env, tmp_path)
        try:
            wait_for(lambda: owner(pg_engine) is not None and count(pg_engine) > 0, what="the first consumer")
            first_owner = owner(pg_engine)
            second = start(["worker", "--role", "stream"], env, tmp_path)
            try:
                time.sleep(3)  # the second worker stands by: one consumer, one connection to the server
                assert owner(pg_engine) == first_owner and server.connections == 1
                stop(first, signal.SIGKILL)  # dies without cleaning up: its lock goes with its connection
                before = count(pg_engine)
                wait_for(lambda: owner(pg_engine) not in (None, first_owner) and count(pg_engine) > before + 2,
                         what="the second worker to take the stream over")
                assert server.connections == 2 and server.cursors[-1] is not None  # resumed from the cursor
            finally:
                stop(second)
        finally:
            stop(first)
    with pg_engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT external_id FROM mention"))]
    assert len(ids) == len(set(ids))


def test_create_all_has_the_stream_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    create_all(engine)
    assert {"stream_status"} <= set(sa.inspect(engine).get_table_names())
    assert "deleted_at" in {c["name"] for c in sa.inspect(engine).get_columns("mention")}


def test_careline_sources_lists_streams_with_lag_and_events_per_minute(cli_env: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from careline import settings as settings_module
    from careline.cli import app
    from careline.db import get_engine
    from careline.services import streams as stream_service
    from collectors.stream import StreamBatch, StreamStats

    monkeypatch.setenv("CARELINE_STREAMS", '["jetstream"]')
    settings_module.get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = get_engine(settings_module.get_settings().url)
    stats = StreamStats(url="ws://127.0.0.1:6008/subscribe")
    batch = StreamBatch(events=30, cursor="1764000000000000", newest_event_s=time.time() - 2)
    stats.add(batch)
    with Session(engine) as session:
        stream_service.store_batch(session, "jetstream", batch, {}, stats, "worker-7", "bluesky")
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "worker-7" in x)
    assert "jetstream" in line and "yes" in line and "events/min" in line and "lag 2." in line


def test_factory_builds_the_mastodon_stream_with_one_token_per_instance(settings: Settings) -> None:
    from pydantic import SecretStr

    from careline.errors import ConfigError
    from careline.factory import build_stream

    cfg = settings.model_copy(update={
        "mastodon_base_url": "https://mastodon.example/", "mastodon_access_token": SecretStr("main-token"),
        "mastodon_stream_instances": ["https://other.example", "https://open.example"],
        "mastodon_stream_tokens": {"https://other.example": SecretStr("other-token")}})
    stream, platform = build_stream("mastodon", cfg)
    assert platform == "mastodon"
    assert [(i.base_url, i.token) for i in stream.instances] == [  # type: ignore[attr-defined]
        ("https://mastodon.example", "main-token"), ("https://other.example", "other-token"),
        ("https://open.example", None)]
    with pytest.raises(ConfigError, match="CARELINE_MASTODON_BASE_URL"):
        build_stream("mastodon", settings.model_copy(update={"mastodon_base_url": None}))


def test_the_demo_stream_is_offline_and_shows_on_sources(settings: Settings, engine: Engine) -> None:
    from careline import demo_stream

    add_brand(engine)
    matched = demo_stream.burst(engine, count=300)
    with Session(engine) as session:
        status = session.get(StreamStatus, "jetstream")
        deleted = session.exec(select(Mention).where(col(Mention.deleted_at).is_not(None))).all()
    # the 300 generated events, then its author deletes the first matching post (the inbox hides it)
    assert status is not None and status.events_total == 301 and status.new_total == matched > 0
    assert len(deleted) == 1 and deleted[0].platform == "bluesky"
    server, live = demo_stream.start_live(settings, engine)
    try:
        assert live.streams == ["jetstream"] and live.jetstream_urls == [server.url]
        assert live.jetstream_resolve_handles is False  # generated authors: no lookups, no network
    finally:
        server.stop()
