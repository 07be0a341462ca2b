"""Dashboard fixtures: a small labelled database the pages read through the normal settings path."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from careline.db import create_all, make_engine
from careline.models import Brand, Mention
from careline.services import users
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from careline.settings import get_settings
from classify.base import Labels
from tests.conftest import make_raw

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "dashboard" / "pages"
NOW = datetime.now(timezone.utc).replace(microsecond=0)

# (text, platform, sentiment, intent, followers, hours ago)
ROWS = [
    ("Acme Air lost my bag in Denver and nobody answers", "x", "negative", "complaint", 12000, 2),
    ("Acme Air lost my suitcase again, lost luggage every time", "reddit", "negative", "complaint", 300, 5),
    ("My Acme Air flight was delayed three hours, lost luggage too", "x", "negative", "complaint", 50, 30),
    ("Does Acme Air allow pets in the cabin?", "bluesky", "neutral", "question", 80, 3),
    ("Thank you Acme Air crew, lovely flight to Oslo!", "x", "positive", "praise", 5000, 1),
    ("Acme Air upgraded us, best airline", "x", "positive", "praise", 20, 26),
    ("Sitting at the gate for Acme Air", "x", "neutral", "other", 10, 4),
    ("Skyhop lost my bag too", "x", "negative", "complaint", 100, 6),
]


def seed(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        acme = Brand(name="Acme Air", keywords=["acme air"], handles=["AcmeAir"])
        sky = Brand(name="Skyhop", keywords=["skyhop"], competitor=True)
        s.add(acme)
        s.add(sky)
        s.commit()
        for i, (text, platform, _sent, intent, followers, hours) in enumerate(ROWS):
            raw = make_raw(platform=platform, text=text, author_followers=followers, external_id=f"seed-{i}",
                           author_handle="fan1" if intent == "praise" else f"user{i}",
                           created_at=NOW - timedelta(hours=hours), url=f"https://example.com/p/{i}")
            ingest(s, [raw], brand_id=sky.id if text.startswith("Skyhop") else acme.id)
        rows = list(s.exec(select(Mention).order_by(Mention.id)))
        labels = [Labels(sent, intent, {sent: 0.9}, {intent: 0.9}, "en") for _, _, sent, intent, _, _ in ROWS]
        apply_labels(s, rows, labels, "test-model-1", 0.55)
        s.commit()
        for name in ("admin", "agent", "viewer"):
            users.create_user(s, name, f"careline-{name}", role=name, display_name=name.title())


@pytest.fixture(autouse=True)
def _no_component_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each AppTest scans every installed package for Streamlit v2 components (~1 s here); we use none."""
    from streamlit.components.v2 import manifest_scanner

    monkeypatch.setattr(manifest_scanner, "scan_component_manifests", lambda *a, **k: [])


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded once per run (bcrypt and classification are slow-ish); each test gets a copy."""
    path = tmp_path_factory.mktemp("dash-template") / "dash.db"
    engine = make_engine(f"sqlite:///{path}")
    create_all(engine)
    seed(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def dash_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _template_db: Path) -> Iterator[Engine]:
    """A seeded SQLite database that `get_settings()` (and so every page) points at."""
    shutil.copy(_template_db, tmp_path / "dash.db")
    monkeypatch.setenv("CARELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CARELINE_DATABASE_URL", f"sqlite:///{tmp_path / 'dash.db'}")
    monkeypatch.setenv("CARELINE_MODEL", "lexicon")
    monkeypatch.setenv("CARELINE_SOURCES", '["demo"]')
    get_settings.cache_clear()
    engine = make_engine(get_settings().url)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


@pytest.fixture
def page(dash_db: Engine) -> Callable[..., AppTest]:
    """page("inbox", role="agent") → a rendered AppTest of that page, signed in with that role."""

    def _open(name: str, role: str = "admin", run: bool = True) -> AppTest:
        import streamlit as st

        from dashboard import lagging

        st.cache_data.clear()
        lagging.clear()
        at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=30)
        at.session_state["user"] = {"username": role, "role": role, "display_name": role.title()}
        if run:
            at.run()
            assert not at.exception, [e.message for e in at.exception]
        return at

    return _open


def mention_id(engine: Engine, text_start: str) -> int:
    with Session(engine) as s:
        m = s.exec(select(Mention).where(Mention.text.startswith(text_start))).first()  # type: ignore[union-attr]
        assert m is not None and m.id is not None
        return m.id


def open_mention(at: AppTest, mid: int) -> None:
    box = at.selectbox(key="open_pick")
    label = next(o for o in box.options if o.startswith(f"#{mid} "))
    box.set_value(label).run()
    assert not at.exception, [e.message for e in at.exception]
