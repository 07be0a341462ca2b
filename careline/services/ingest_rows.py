"""Preparing collected items for ingest (services/ingest.py): what makes an item unstorable, which are
stored already, and the row a storable one becomes (text as posted minus what no database can store,
bounded fields cut to width, a JSON-safe payload, the first-response deadline and the priority).
"""
from __future__ import annotations

import functools
import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from careline.db import in_param
from careline.db_sqlite import DumpedJSON
from careline.models import Mention
from careline.services import mention_brands, sla
from careline.services.priority import score_mention
from collectors.base import RawMention, normalise_language

MAX_TEXT_CHARS = 200_000  # well above any platform's limit; beyond this a payload is not a post
# Bounded text columns and their widths, read from the model so a new column is covered without a list
# here: SQLite ignores widths, PostgreSQL fails the whole statement (every row of the page) on one.
# The identity columns (platform, external_id) are never cut: an item whose id does not fit is skipped.
_WIDTHS = {c.name: c.type.length for c in Mention.__table__.columns  # type: ignore[attr-defined]
           if getattr(c.type, "length", None) and c.name not in ("platform", "external_id")}


@dataclass
class Rules:
    """What ingest reads beside the posts: the brands' matching rules (None when there are no brands) and
    the SLA policies, each read when first needed. A collector run keeps one for all its pages
    (services/collection.py), so they are read once per run, not per page (three statements a page);
    a change made during a run applies from the run after it. `ingest` without one reads them per call."""

    _read: dict[str, Any] = field(default_factory=dict)

    def attribution(self, session: Session) -> mention_brands.Attribution | None:
        if "attr" not in self._read:
            attr = mention_brands.attribution(session)
            self._read["attr"] = attr if attr.ids else None
        return self._read["attr"]  # type: ignore[no-any-return]

    def policies(self, session: Session) -> sla.PolicyBook:
        if "policies" not in self._read:
            self._read["policies"] = sla.book(session)
        return self._read["policies"]  # type: ignore[no-any-return]


def stored_posts(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
    """(id, brand_id) of the posts already stored, by (platform, external_id): one indexed query per 500."""
    out: dict[tuple[str, str], tuple[int, int | None]] = {}
    conn = session.connection()
    stmt = _stored_query(conn.dialect.name)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        wanted = set(chunk)
        params = {"platforms": json.dumps(sorted({p for p, _ in chunk})),
                  "ids": json.dumps(sorted({e for _, e in chunk}))}
        out.update(((p, e), (i, b)) for i, p, e, b in conn.execute(stmt, params) if (p, e) in wanted)
    return out


@functools.cache
def _stored_query(dialect: str) -> sa.Select[Any]:
    """stored_posts' statement, built once: (platform, external_id) as two INs (key_filter says why)."""
    m = Mention.__table__  # type: ignore[attr-defined]
    return sa.select(m.c.id, m.c.platform, m.c.external_id, m.c.brand_id).where(
        in_param(dialect, m.c.platform, "platforms"), in_param(dialect, m.c.external_id, "ids"))


def clean_text(text: str | None) -> str:
    """Keep the text as posted, minus what no database can store (NUL, lone surrogates)."""
    if text is None:
        return ""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return unicodedata.normalize("NFC", text)


def validate(raw: RawMention) -> str | None:
    """A reason to skip this item, or None when it can be stored."""
    if not isinstance(raw, RawMention):
        return f"not a mention ({type(raw).__name__})"
    if not raw.platform or not raw.external_id:
        return "missing platform or external id"
    if not isinstance(raw.platform, str) or len(raw.platform) > 20:
        return f"platform name {str(raw.platform)[:40]!r} is not one Careline knows"
    if len(raw.external_id) > 200:
        return f"external id longer than 200 characters ({raw.platform})"
    if raw.text is not None and not isinstance(raw.text, str):
        return f"{raw.platform}:{raw.external_id} text is a {type(raw.text).__name__}, not text"
    if raw.text is not None and len(raw.text) > MAX_TEXT_CHARS:
        return f"{raw.platform}:{raw.external_id} text is {len(raw.text):,} characters (limit {MAX_TEXT_CHARS:,})"
    if not isinstance(raw.created_at, datetime):
        return f"{raw.platform}:{raw.external_id} has no valid timestamp"
    return None


def prepare(raw: RawMention, brand_id: int | None, now: datetime, policies: sla.PolicyBook,
            horizon: float | None = None) -> dict[str, Any]:
    """The mention row to insert for a valid item (ingest allocates its id and decides its case).
    `horizon`: priority.horizon_days(), read once for a batch (score_mention reads it otherwise)."""
    row: dict[str, Any] = {
        "platform": raw.platform,
        "external_id": str(raw.external_id),
        "brand_id": brand_id,
        "url": raw.url,
        "author_handle": (raw.author_handle or None) and clean_text(raw.author_handle)[:200],
        "author_name": raw.author_name and clean_text(raw.author_name),
        "author_followers": raw.author_followers,
        "author_external_id": raw.author_id,
        "text": clean_text(raw.text),
        "language": normalise_language(raw.language),
        "created_at": raw.created_at.astimezone(timezone.utc),
        "collected_at": now,
        "parent_id": raw.parent_id,
        "thread_id": raw.thread_id,
        "raw": _raw_payload(raw.raw),
        "status": "new",
        "tags": [],
        "sentiment_scores": {},
        "intent_scores": {},
        "needs_review": False,
        "updated_at": now,
        "priority_boost": 0.0,
        "case_id": None,  # services/cases.py plan decides it, and the owner, before the insert
        "assignee": None,
    }
    for name, width in _WIDTHS.items():  # never let one over-long field fail the batch
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[:width]
    row["respond_by"] = policies.respond_by(brand_id, raw.platform, None, row["created_at"])
    row["priority"] = score_mention(_Obj(row), now, horizon)
    return row


class _Obj:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


_STRICT = json.JSONEncoder(allow_nan=False)  # json.dumps(v, allow_nan=False), without building one per call


def _raw_payload(value: Any) -> Any:
    """The payload as JSON can store it. Most payloads already are plain JSON (the fast, C-only check);
    the column's serializer escapes NUL and lone surrogates itself, so only other types need work. A
    plain object keeps the text the check wrote (careline/db_sqlite.py DumpedJSON: json.dumps's own, as
    the check differs only in refusing NaN), so SQLite's insert does not dump it again. The encoder built
    once and the text kept: check 2.8-3.2 + insert's dump 2.0-2.5 -> 1.8-1.9 µs a benchmark payload (timeit,
    100,000 calls, load 1.0-1.5)."""
    try:
        text = _STRICT.encode(value)
    except (TypeError, ValueError):
        return _jsonable(value)
    if value and value.__class__ is dict:
        value = DumpedJSON(value)
        value.text = text
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)
