"""Advocates: customers who praise one of our brands, ranked per customer across platforms; thanking them.

A customer's praise for a brand is the sum over their identities of the per-(author, brand) rollup that
ingest and classification keep (services/customer_counts.py), so the ranking costs two indexed queries
however many mentions there are. Competitors are never in it: praise for a rival is share of voice, not
advocacy, and thanking someone in a rival's name would be worse than not thanking them. One thank-you
per customer per `THANK_COOLDOWN`, whichever platform it went to.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.cells import csv_safe
from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import Author, AuthorBrand, Brand, Customer, CustomerIdentity, Mention, Reply, utcnow
from careline.services import audit, customers, replies, users

RECENCY_HALF_LIFE_DAYS = 30.0
THANK_COOLDOWN = timedelta(hours=24)


@dataclass(frozen=True)
class Advocate:
    platform: str  # the identity with the most praise for this brand (where a thank-you goes)
    handle: str
    display_name: str | None
    followers: int
    praise_count: int
    complaint_count: int
    mention_count: int
    last_seen_at: datetime | None
    last_thanked_at: datetime | None
    score: float
    customer_id: int | None = None
    brand_id: int | None = None
    brand: str | None = None
    identities: tuple[str, ...] = field(default_factory=tuple)  # "platform:@handle" of every praising identity
    last_thanked_platform: str | None = None


def score(praise: int, followers: int | None, last_seen: datetime | None, now: datetime) -> float:
    """Praise counts most; reach multiplies it gently (log scale); old praise fades with a 30-day half-life."""
    reach = 1.0 + math.log10((followers or 0) + 1) / 2
    age_days = max(0.0, (now - last_seen).total_seconds() / 86400) if last_seen else 365.0
    recency = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
    return round(praise * reach * (0.25 + 0.75 * recency), 3)


def own_brands(session: Session) -> dict[int, str]:
    return {b.id: b.name for b in session.exec(select(Brand).where(col(Brand.competitor).is_(False))) if b.id}


def top_advocates(
    session: Session,
    *,
    brand_id: int | None = None,
    platforms: Sequence[str] | None = None,
    min_praise: int = 1,
    limit: int = 100,
    now: datetime | None = None,
) -> list[Advocate]:
    """Customers ranked by their praise for one of our brands (`brand_id`, or each own brand), never a competitor."""
    now = now or datetime.now(timezone.utc)
    own = own_brands(session)
    if brand_id is not None and brand_id not in own:
        raise InvalidInput("Advocates are people who praise your own brands; that brand is a competitor or unknown.")
    wanted = [brand_id] if brand_id is not None else list(own)
    if not wanted:
        return []
    ab, ci, a = AuthorBrand, CustomerIdentity, Author
    rows = session.execute(
        sa.select(col(ci.customer_id), col(ab.brand_id), col(a.platform), col(a.handle), col(ab.praise_count),
                  col(ab.complaint_count), col(ab.mention_count), col(ab.last_seen_at), col(a.followers))
        .join(ci, col(ci.author_id) == ab.author_id).join(a, col(a.id) == ab.author_id)
        .where(col(ab.brand_id).in_(wanted), col(ab.praise_count) > 0,
               *([col(a.platform).in_(list(platforms))] if platforms else []))
        # praise dominates the score; the ids settle ties, so both databases keep the same rows at the limit
        .order_by(col(ab.praise_count).desc(), col(ab.author_id), col(ab.brand_id)).limit(max(limit * 10, 1000))
    ).all()
    groups: dict[tuple[int, int], list[tuple]] = {}
    for r in rows:
        groups.setdefault((r[0], r[1]), []).append(tuple(r))
    # rough order by praise first, so only the customers that can make the list are loaded
    ranked_groups = sorted(groups.items(), key=lambda kv: (-sum(r[4] for r in kv[1]), kv[0]))[: max(limit * 3, 300)]
    people = {c.id: c for c in session.exec(select(Customer).where(
        col(Customer.id).in_(sorted({k[0] for k, _ in ranked_groups})), col(Customer.erased_at).is_(None)))}
    out = []
    for (cid, bid), ids in ranked_groups:
        c = people.get(cid)
        praise = sum(r[4] for r in ids)
        if c is None or praise < min_praise:
            continue
        best = max(ids, key=lambda r: (r[4], r[8] or 0))
        seen = max((r[7] for r in ids if r[7]), default=None)
        followers = max((r[8] or 0 for r in ids), default=0)
        out.append(Advocate(
            platform=best[2], handle=best[3], display_name=c.display_name, followers=followers, praise_count=praise,
            complaint_count=sum(r[5] for r in ids), mention_count=sum(r[6] for r in ids), last_seen_at=seen,
            last_thanked_at=c.last_thanked_at, score=score(praise, followers, seen, now), customer_id=cid,
            brand_id=bid, brand=own.get(bid), identities=tuple(f"{r[2]}:@{r[3]}" for r in ids),
            last_thanked_platform=c.last_thanked_platform))
    # a full order: one handle can be two customers on two platforms, or one customer praising two brands
    out.sort(key=lambda adv: (-adv.score, adv.handle, adv.platform, adv.brand_id or 0, adv.customer_id or 0))
    return out[:limit]


def lifetime_praise(session: Session, keys: Sequence[tuple[str, str]],
                    brand_ids: Sequence[int | None] | None = None) -> dict[tuple[str, str], int]:
    """(platform, handle) -> the author's praise for our own brands (or those of `brand_ids` that are ours;
    None: posts of no brand), ever: the rollup the ranking above sums (author_brand, competitors left
    out), so the weekly report's "lifetime praise" is this page's figure; the author's all-brand
    `Author.praise_count` would count a rival's fans. A few indexed rows a key."""
    ours = own_brands(session)
    own = list(ours) if brand_ids is None else [
        0 if b is None else b for b in brand_ids if b is None or b in ours]  # 0: author_brand's "no brand"
    if not keys or not own:
        return {}
    ab, a = AuthorBrand, Author
    who = sa.or_(*[sa.and_(col(a.platform) == p, col(a.handle) == h) for p, h in keys])
    rows = session.execute(
        sa.select(col(a.platform), col(a.handle), sa.func.sum(col(ab.praise_count)))
        .join(ab, col(ab.author_id) == col(a.id))
        .where(who, col(ab.brand_id).in_(own)).group_by(col(a.platform), col(a.handle)))
    return {(p, h): int(n or 0) for p, h, n in rows}


def _praise() -> sa.ColumnElement[bool]:
    return (col(Mention.corrected_intent) == "praise") | (
        col(Mention.corrected_intent).is_(None) & (col(Mention.intent) == "praise"))


def recent_praise(session: Session, platform: str, handle: str, limit: int = 5,
                  brand_id: int | None = None) -> list[Mention]:
    """The author's latest praise for `brand_id`, or for any of our brands (never a competitor's)."""
    brands = [brand_id] if brand_id is not None else list(own_brands(session))
    stmt = (
        select(Mention)
        .where(col(Mention.platform) == platform, col(Mention.author_handle) == handle, _praise(),
               col(Mention.brand_id).in_(brands))
        .order_by(col(Mention.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def customer_praise(session: Session, customer_id: int, brand_id: int | None = None, limit: int = 5) -> list[Mention]:
    """A customer's latest praise for `brand_id` (or any own brand) on every platform, newest first."""
    brands = [brand_id] if brand_id is not None else list(own_brands(session))
    idents = customers.identities(session, customer_id)
    if not idents or not brands:
        return []
    who = sa.or_(*[sa.and_(col(Mention.platform) == i.platform, col(Mention.author_handle) == i.handle) for i in idents])
    stmt = select(Mention).where(who, _praise(), col(Mention.brand_id).in_(brands))
    return list(session.exec(stmt.order_by(col(Mention.created_at).desc()).limit(limit)))


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
    brand_id: int | None = None,
) -> Reply:
    """Queue a thank-you reply to the author's latest praise (or `mention_id`); viewers may not.

    A thank-you never confirms a duplicate: if that post already has a reply (queued, sent or maybe
    sent), queueing refuses with the reason, so a double click or two agents never thank twice.
    """
    users.require(role, "reply")
    if mention_id is None:
        latest = recent_praise(session, platform, handle, limit=1, brand_id=brand_id)
        if not latest:
            raise NotFound(f"No praise from {handle} on {platform} for your brands to reply to.")
        mention_id = latest[0].id
    else:
        m = session.get(Mention, mention_id)
        if m is None or m.platform != platform or m.author_handle != handle:
            raise InvalidInput("That mention is not by this author.")
        if m.brand_id is not None and m.brand_id not in own_brands(session):
            raise InvalidInput("That praise is about a competitor; Careline only thanks people for praising your brands.")
    assert mention_id is not None
    person = customers.for_author(session, platform, handle)
    now = utcnow()
    if (person is not None and person.last_thanked_at and now - person.last_thanked_at < THANK_COOLDOWN
            and not replies.existing_active(session, mention_id)):  # a second reply to one post: queue_reply says so
        raise Conflict(f"{person.display_name or handle} was already thanked on {person.last_thanked_platform or 'a platform'} "
                       f"in the last {THANK_COOLDOWN.total_seconds() / 3600:.0f} hours; once a day is enough.")
    reply = replies.queue_reply(session, mention_id, text, actor, kind="thanks", dry_run=dry_run)
    author = session.exec(select(Author).where(Author.platform == platform, Author.handle == handle)).first()
    if author is not None:
        author.last_thanked_at = now
        session.add(author)
    if person is not None:
        person.last_thanked_at, person.last_thanked_platform = now, platform
        session.add(person)
    audit.record(session, actor, "thank", mention_id=mention_id, reply_id=reply.id, platform=platform, handle=handle,
                 customer_id=person.id if person else None)
    session.commit()
    return reply


def to_csv(advocates: Sequence[Advocate]) -> bytes:
    """The list for marketing. Cells starting with = + - @ are prefixed so spreadsheets don't run them."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["platform", "handle", "display_name", "followers", "praise", "complaints", "mentions",
                "last_seen_utc", "last_thanked_utc", "score", "brand", "customer_id", "identities"])
    for a in advocates:
        w.writerow([a.platform, csv_safe(a.handle), csv_safe(a.display_name or ""), a.followers, a.praise_count,
                    a.complaint_count, a.mention_count, a.last_seen_at.isoformat() if a.last_seen_at else "",
                    a.last_thanked_at.isoformat() if a.last_thanked_at else "", a.score, csv_safe(a.brand or ""),
                    a.customer_id or "", csv_safe(" ".join(a.identities))])
    return buf.getvalue().encode("utf-8")




def thanked_recently(last_thanked_at: datetime | None, now: datetime | None = None) -> bool:
    """True while a thank-you is within THANK_COOLDOWN (the page greys out Thank; `thank` refuses)."""
    return bool(last_thanked_at) and (now or utcnow()) - last_thanked_at < THANK_COOLDOWN  # type: ignore[operator]
