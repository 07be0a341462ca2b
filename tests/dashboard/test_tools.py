"""`careline user add/list` and the benchmark seeder."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from careline.db import make_engine
from careline.models import Author, Mention, User
from careline.services import inbox, users

ROOT = Path(__file__).resolve().parents[2]


def test_user_add_prompts_and_lists(dash_db, monkeypatch: pytest.MonkeyPatch):
    from careline.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["user", "add", "Dana", "--role", "viewer"], input="long-password\nlong-password\n")
    assert result.exit_code == 0, result.output
    with Session(dash_db) as s:
        dana = s.exec(select(User).where(User.username == "dana")).one()
        assert dana.role == "viewer" and users.authenticate(s, "dana", "long-password") is not None
        assert "long-password" not in dana.password_hash
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0 and "dana" in listed.output and "viewer" in listed.output
    bad = runner.invoke(app, ["user", "add", "eve", "--role", "root"], input="long-password\nlong-password\n")
    assert bad.exit_code != 0


def test_seed_mentions_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    sys.modules.pop("seed_mentions", None)
    import seed_mentions

    url = f"sqlite:///{tmp_path / 'seed.db'}"
    seed_mentions.seed(url, 500, seed_value=3)
    engine = make_engine(url)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Mention)).one() == 500
        assert s.exec(select(func.count()).select_from(Author)).one() > 50
        platforms = set(s.exec(select(Mention.platform).distinct()))
        page = inbox.list_inbox(s)
    engine.dispose()
    assert platforms == {"x", "reddit", "bluesky", "mastodon", "hackernews"}
    priorities = [m.priority for m in page.items]
    assert priorities and priorities == sorted(priorities, reverse=True) and priorities[0] > 0
