"""Bad days: a locked database, secrets near logs. Clear errors, nothing partial, nothing leaked."""
from __future__ import annotations

import logging
import sqlite3

import pytest
import responses
from sqlmodel import Session, func, select

from careline.console import RedactingFilter
from careline.db import create_all, make_engine, session_scope
from careline.errors import DatabaseError
from careline.models import CollectorRun, Mention, SourceState
from careline.services import brands as brand_service
from careline.services.collection import collect
from careline.services.ingest import ingest
from careline.settings import BrandConfig, Settings
from tests.conftest import make_raw


def test_locked_database_gives_one_sentence_and_no_partial_batch(tmp_path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_s=0.2)
    create_all(engine)
    with session_scope(engine) as s:
        ingest(s, [make_raw()], source="x", query_key="x:1", cursor="1")
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError, match="locked by another process; nothing was saved"):
            with session_scope(engine) as s:
                ingest(s, [make_raw() for _ in range(50)], source="x", query_key="x:1", cursor="51")
    finally:
        blocker.rollback()
        blocker.close()
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Mention)).one() == 1
        assert s.exec(select(SourceState)).one().cursor == "1"


@responses.activate
def test_tokens_never_reach_logs_or_database(tmp_path, caplog) -> None:
    token = "AAAA-very-secret-bearer-token-0123456789"
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 't.db'}", sources=["x"],
                        x_bearer_token=token, model="lexicon", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.url)
    create_all(engine)
    with Session(engine) as s:
        brand_service.sync_from_settings(s, [BrandConfig(name="Acme Air", keywords=["acme air"])])
    responses.add(responses.GET, "https://api.twitter.com/2/tweets/search/recent", status=401,
                  json={"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
    from careline.factory import build_source

    with caplog.at_level(logging.DEBUG):
        summary = collect(engine, build_source("x", settings))
    assert summary.errors, "a 401 must be reported"
    assert token not in caplog.text
    assert token not in repr(settings) and token not in settings.model_dump_json()
    with Session(engine) as s:
        stored = " ".join(str(r.error) for r in s.exec(select(CollectorRun))) + " ".join(
            str(st.last_error) for st in s.exec(select(SourceState)))
    assert "401" in stored or "credential" in stored.lower() or "token" in stored.lower()
    assert token not in stored
    with open(path := tmp_path / "t.db", "rb") as fh:
        assert token.encode() not in fh.read(), f"token found in {path}"


def test_redacting_filter_masks_tokens_a_library_might_log() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "headers: Authorization: Bearer %s", ("abc.def",), None)
    RedactingFilter().filter(record)
    assert "abc.def" not in record.getMessage()


@pytest.mark.parametrize("line", [
    "Authorization: OAuth oauth_consumer_key=\"ck\", oauth_token=\"tok-123\", oauth_signature=\"sig%3D\"",
    "{'Authorization': 'Bearer tok-123'}",
    "password=tok-123&user=x",
])
def test_redacting_filter_handles_header_shapes(line: str) -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, line, (), None)
    RedactingFilter().filter(record)
    assert "tok-123" not in record.getMessage() and "sig%3D" not in record.getMessage()
