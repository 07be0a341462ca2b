"""`careline user add/list` and the benchmark seeder."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from careline import search_index
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


def test_seeded_database_has_every_index_and_a_full_text_index_in_step(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """The seeder drops the indexes to load fast: it must build back exactly what migrate() makes."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    sys.modules.pop("seed_mentions", None)
    import seed_mentions

    from careline.db import migrate

    seed_mentions.seed(f"sqlite:///{tmp_path / 'seed.db'}", 300, seed_value=5)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(fresh)
    seeded = make_engine(f"sqlite:///{tmp_path / 'seed.db'}")
    objects = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name"
    with fresh.connect() as a, seeded.connect() as b:
        assert list(a.exec_driver_sql(objects)) == list(b.exec_driver_sql(objects))
        found = b.exec_driver_sql("SELECT count(*) FROM mention_fts WHERE mention_fts MATCH 'bag'").scalar()
        texts = [r[0] for r in b.exec_driver_sql("SELECT text || ' ' || coalesce(author_name, '') FROM mention")]
    fresh.dispose()
    seeded.dispose()
    assert found and found == sum("bag" in re.split(r"[^\w]+|_", t.lower()) for t in texts)


@pytest.mark.postgres
def test_seeded_postgres_database_has_every_index(monkeypatch: pytest.MonkeyPatch):
    """On PostgreSQL the open-inbox GIN (0022) indexes the generated search column, which the seeder drops
    with the full-text index: it must build the column back before the indexes that need it."""
    import uuid

    import sqlalchemy as sa

    from careline.db import migrate
    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.fail("CARELINE_TEST_POSTGRES_URL is not set; run the suite with `make test` (it starts PostgreSQL)")
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    sys.modules.pop("seed_mentions", None)
    import seed_mentions

    seeded, fresh = (f"t_{uuid.uuid4().hex[:10]}" for _ in range(2))
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        for schema in (seeded, fresh):
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        seed_mentions.seed(f"{POSTGRES_URL}?options=-csearch_path%3D{seeded}", 300, seed_value=5)
        engine = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={fresh}"})
        migrate(engine)
        engine.dispose()
        query = sa.text("SELECT indexname, replace(indexdef, :schema || '.', '') FROM pg_indexes "
                        "WHERE schemaname = :schema AND tablename = 'mention' ORDER BY indexname")
        with admin.connect() as conn:
            made = {schema: list(conn.execute(query, {"schema": schema})) for schema in (seeded, fresh)}
            found = conn.execute(sa.text(f'SELECT count(*) FROM "{seeded}".mention '
                                         "WHERE search_vector @@ plainto_tsquery('simple', 'bag')")).scalar()
    finally:
        with admin.begin() as conn:
            for schema in (seeded, fresh):
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    assert made[seeded] == made[fresh] and any(name == search_index.PG_OPEN_INDEX for name, _ in made[seeded])
    assert found is not None and found > 0
