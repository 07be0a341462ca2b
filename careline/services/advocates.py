"""Advocates: authors who praise a brand, ranked by praise, reach and recency; thanking them.

The ranking reads the `Author` rollup (kept by ingest and classification), so it costs one indexed query
however many mentions there are.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import Author, Mention, Reply, utcnow
from careline.services import audit, replies, users

RECENCY_HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True)
class Advocate:
    platform: str
    handle: str
    display_name: str | None
    followers: int
    praise_count: int
    complaint_count: int
    mention_count: int
    last_seen_at: datetime | None
    last_thanked_at: datetime | None
    score: float


def score(praise: int, followers: int | None, last_seen: datetime | None, now: datetime) -> float:
    """Praise counts most; reach multiplies it gently (log scale); old praise fades with a 30-day half-life."""
    reach = 1.0 + math.log10((followers or 0) + 1) / 2
    age_days = max(0.0, (now - last_seen).total_seconds() / 86400) if last_seen else 365.0
    recency = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
    return round(praise * reach * (0.25 + 0.75 * recency), 3)


def top_advocates(
    session: Session,
    *,
    platforms: Sequence[str] | None = None,
    min_praise: int = 1,
    limit: int = 100,
    now: datetime | None = None,
) -> list[Advocate]:
    now = now or datetime.now(timezone.utc)
    stmt = (
        select(Author)
        .where(col(Author.praise_count) >= min_praise)
        .order_by(col(Author.praise_count).desc(), col(Author.last_seen_at).desc())
        .limit(max(limit * 5, 500))  # rescored below; praise dominates the score, so this window is enough
    )
    if platforms:
        stmt = stmt.where(col(Author.platform).in_(list(platforms)))
    out = [
        Advocate(
            platform=a.platform, handle=a.handle, display_name=a.display_name, followers=a.followers or 0,
            praise_count=a.praise_count, complaint_count=a.complaint_count, mention_count=a.mention_count,
            last_seen_at=a.last_seen_at, last_thanked_at=a.last_thanked_at,
            score=score(a.praise_count, a.followers, a.last_seen_at, now),
        )
        for a in session.exec(stmt)
    ]
    out.sort(key=lambda a: (-a.score, a.handle))
    return out[:limit]


def _praise() -> object:
    return (col(Mention.corrected_intent) == "praise") | (
        col(Mention.corrected_intent).is_(None) & (col(Mention.intent) == "praise"))


def recent_praise(session: Session, platform: str, handle: str, limit: int = 5) -> list[Mention]:
    stmt = (
        select(Mention)
        .where(Mention.platform == platform, Mention.author_handle == handle, _praise())
        .order_by(col(Mention.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def thank(
    session: Session,
    platform: str,
    handle: str,
    text: str,
    actor: str,
    role: str,
    *,
    mention_id: int | None = None,
    dry_run: bool = False,
) -> Reply:
    """Queue a thank-you reply to the author's latest praise (or `mention_id`); viewers may not.

    A thank-you never confirms a duplicate: if that post already has a reply (queued, sent or maybe
    sent), queueing refuses with the reason, so a double click or two agents never thank twice.
    """
    users.require(role, "reply")
    if mention_id is None:
        latest = recent_praise(session, platform, handle, limit=1)
        if not latest:
            raise NotFound(f"No praise from {handle} on {platform} to reply to.")
        mention_id = latest[0].id
    else:
        m = session.get(Mention, mention_id)
        if m is None or m.platform != platform or m.author_handle != handle:
            raise InvalidInput("That mention is not by this author.")
    assert mention_id is not None
    reply = replies.queue_reply(session, mention_id, text, actor, kind="thanks", dry_run=dry_run)
    author = session.exec(select(Author).where(Author.platform == platform, Author.handle == handle)).first()
    if author is not None:
        author.last_thanked_at = utcnow()
        session.add(author)
    audit.record(session, actor, "thank", mention_id=mention_id, reply_id=reply.id, platform=platform, handle=handle)
    session.commit()
    return reply


def to_csv(advocates: Sequence[Advocate]) -> bytes:
    """The list for marketing. Cells starting with = + - @ are prefixed so spreadsheets don't run them."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["platform", "handle", "display_name", "followers", "praise", "complaints", "mentions",
                "last_seen_utc", "last_thanked_utc", "score"])
    for a in advocates:
        w.writerow([a.platform, _cell(a.handle), _cell(a.display_name or ""), a.followers, a.praise_count,
                    a.complaint_count, a.mention_count, a.last_seen_at.isoformat() if a.last_seen_at else "",
                    a.last_thanked_at.isoformat() if a.last_thanked_at else "", a.score])
    return buf.getvalue().encode("utf-8")


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
