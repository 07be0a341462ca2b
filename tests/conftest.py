"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL schema); factories are in
tests/factories.py."""
from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.db import create_all, make_engine
from careline.models import Brand
from careline.settings import Settings
from tests.factories import make_brand, make_raw  # noqa: F401 - re-exported for tests that import it here

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Property tests draw the same examples on every run (CI must not go red by the luck of the draw); set
# CARELINE_HYPOTHESIS_RANDOM=1 to explore fresh ones locally.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("careline", derandomize=not os.environ.get("CARELINE_HYPOTHESIS_RANDOM"))
_hypothesis_settings.load_profile("careline")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
POSTGRES_URL = os.environ.get("CARELINE_TEST_POSTGRES_URL") or None


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data/fixtures folder beside the repo), which is absent")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'test.db'}", model="lexicon",
                    sources=["demo"], _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.url)
    create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A fresh schema in the test PostgreSQL (CARELINE_TEST_POSTGRES_URL, set by `make test`)."""
    if not POSTGRES_URL:
        pytest.fail("CARELINE_TEST_POSTGRES_URL is not set; run the suite with `make test` (it starts PostgreSQL)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Runs a test on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'any.db'}")
        create_all(eng)
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        create_all(eng)
        yield eng


@pytest.fixture
def raw_factory():  # type: ignore[no-untyped-def]
    return make_raw


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session, "Acme Air", handles=["AcmeAir"])


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory and settings for CLI tests (placeholder model, wide terminal)."""
    from careline import settings as settings_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARELINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CARELINE_MODEL", "lexicon")
    monkeypatch.setenv("COLUMNS", "220")  # rich wraps table cells to the terminal width
    settings_module.get_settings.cache_clear()
    yield tmp_path
    settings_module.get_settings.cache_clear()


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local webhook: (an apprise json:// URL to it, the JSON bodies it received), for real deliveries."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
