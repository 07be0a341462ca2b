"""Trend figures for the dashboard and the weekly export: volumes, share of voice, themes, response times.

Every function aggregates in SQL and returns small plain dataclasses. Days are cut in the configured time
zone by the database: the range is split where the zone's UTC offset changes (DST), and within each piece
a local day is a fixed shift of UTC, so SQLite and PostgreSQL group by day the same way.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention

LABELS = {"sentiment": ("negative", "neutral", "positive"), "intent": ("complaint", "question", "praise", "other")}
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class VolumeRow:
    period: date  # the day, or the Monday starting the week, in the configured zone
    brand: str
    platform: str
    label: str
    count: int


@dataclass(frozen=True)
class ShareRow:
    brand: str
    competitor: bool
    mentions: int
    share: float  # of all mentions in the range, 0..1
    positive: int
    negative: int


@dataclass(frozen=True)
class ResponseStats:
    actionable: int  # complaints and questions in the range
    answered: int
    within_sla: int
    sla_minutes: int
    median_minutes: float | None
    p90_minutes: float | None

    @property
    def answered_share(self) -> float:
        return self.answered / self.actionable if self.actionable else 0.0

    @property
    def within_sla_share(self) -> float:
        """Share of actionable mentions answered within the SLA (unanswered ones count as missed)."""
        return self.within_sla / self.actionable if self.actionable else 0.0


def _day_bucket(session: Session, offset_minutes: int) -> sa.ColumnElement:
    """The local calendar day (text, YYYY-MM-DD) of created_at under a fixed UTC offset."""
    if session.get_bind().dialect.name == "postgresql":
        shifted = sa.func.timezone("UTC", col(Mention.created_at)) + sa.text(f"interval '{int(offset_minutes)} minutes'")
        return sa.func.to_char(shifted, "YYYY-MM-DD")
    return sa.func.date(col(Mention.created_at), f"{int(offset_minutes):+d} minutes")


def offset_segments(since: datetime, until: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """Split [since, until) where the zone's UTC offset changes (DST): (start, end, offset minutes) each.

    Within a segment a local day is a fixed shift of UTC, so the database can group by day directly.
    """
    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    segments = []
    start, current, probe = since, offset(since), since
    while probe < until:
        nxt = min(probe + timedelta(hours=1), until)
        if offset(nxt - timedelta(microseconds=1)) != current:  # it changed inside this hour
            edge = probe.replace(second=0, microsecond=0)
            while offset(edge) == current:
                edge += timedelta(minutes=1)
            segments.append((start, edge, current))
            start, current = edge, offset(edge)
        probe = nxt
    segments.append((start, until, current))
    return [seg for seg in segments if seg[0] < seg[1]]


def _effective(name: str) -> sa.ColumnElement:
    return sa.func.coalesce(getattr(Mention, f"corrected_{name}"), getattr(Mention, name))


def _scope(stmt: sa.Select, since: datetime, until: datetime, brand_ids: Sequence[int] | None,
           platforms: Sequence[str] | None) -> sa.Select:
    stmt = stmt.where(col(Mention.created_at) >= since, col(Mention.created_at) < until)
    if brand_ids:
        stmt = stmt.where(col(Mention.brand_id).in_(list(brand_ids)))
    if platforms:
        stmt = stmt.where(col(Mention.platform).in_(list(platforms)))
    return stmt


def _brand_names(session: Session) -> dict[int | None, str]:
    names: dict[int | None, str] = {b.id: b.name for b in session.exec(select(Brand))}
    names[None] = "(no brand)"
    return names


def volume(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    by: str = "sentiment",
    granularity: str = "day",
    zone: ZoneInfo | str = "UTC",
    brand_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
) -> list[VolumeRow]:
    """Mention counts per period, brand, platform and label (`by` = sentiment or intent).

    Days (and ISO weeks, Monday first) are cut in `zone`. A person's correction wins over the model's
    label; unclassified mentions count as "unclassified".
    """
    if by not in LABELS:
        raise ValueError(f"by must be one of {', '.join(LABELS)}")
    if granularity not in ("day", "week"):
        raise ValueError("granularity must be day or week")
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    names = _brand_names(session)
    label = _effective(by).label("label")
    folded: Counter[tuple[date, str, str, str]] = Counter()
    for seg_start, seg_end, offset in offset_segments(since, until, zone):
        day = _day_bucket(session, offset).label("day")
        stmt = select(day, col(Mention.brand_id), col(Mention.platform), label, sa.func.count().label("n"))
        stmt = _scope(stmt, seg_start, seg_end, brand_ids, platforms).group_by(
            day, col(Mention.brand_id), col(Mention.platform), label)
        for day_text, brand_id, platform, lab, n in session.execute(stmt):
            period = date.fromisoformat(day_text)
            if granularity == "week":
                period -= timedelta(days=period.weekday())
            folded[(period, names.get(brand_id, "?"), platform, lab or UNCLASSIFIED)] += n
    return [VolumeRow(p, b, pl, lab, n) for (p, b, pl, lab), n in sorted(folded.items())]


def share_of_voice(
    session: Session, since: datetime, until: datetime, *, platforms: Sequence[str] | None = None
) -> list[ShareRow]:
    """Each brand's mentions in the range (ours and competitors'), largest first."""
    sentiment = _effective("sentiment")
    stmt = select(
        col(Mention.brand_id),
        sa.func.count(),
        sa.func.sum(sa.case((sentiment == "positive", 1), else_=0)),
        sa.func.sum(sa.case((sentiment == "negative", 1), else_=0)),
    )
    stmt = _scope(stmt, since, until, None, platforms).group_by(col(Mention.brand_id))
    rows = list(session.execute(stmt))
    total = sum(r[1] for r in rows) or 1
    brands = {b.id: b for b in session.exec(select(Brand))}
    out = []
    for brand_id, n, pos, neg in rows:
        b = brands.get(brand_id)
        out.append(ShareRow(brand=b.name if b else "(no brand)", competitor=bool(b and b.competitor),
                            mentions=int(n), share=n / total, positive=int(pos or 0), negative=int(neg or 0)))
    return sorted(out, key=lambda r: (-r.mentions, r.brand))


STOPWORDS = frozenset("""
a about after again all also am an and any are as at be been before being but by can could did do does
doing don dont down during each even every few for from get got had has have having he her here hers him
his how i if im in into is isn it its just ive let like me more most my no nor not now of off on once
only or other our ours out over own same she should so some still such than that thats the their theirs
them then there these they this those through to too under until up us very was we were what when where
which while who whom why will with would you your yours yet really one two three since way back again
anyone else thanks thank hey hi ever never today tonight via amp https http www com""".split())
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)


def complaint_themes(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    brand_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
    limit: int = 15,
    sample: int = 5000,
) -> list[tuple[str, int]]:
    """The most frequent terms and two-word phrases in complaints (newest `sample` complaints).

    Brand names and keywords are left out: every complaint names the brand. A phrase is kept over its
    words when it is nearly as frequent, so "lost luggage" shows instead of "lost" and "luggage".
    """
    stmt = select(col(Mention.text)).where(_effective("intent") == "complaint")
    stmt = _scope(stmt, since, until, brand_ids, platforms).order_by(col(Mention.created_at).desc()).limit(sample)
    skip = set(STOPWORDS)
    for b in session.exec(select(Brand)):
        for term in [b.name, *(b.keywords or []), *(b.handles or [])]:
            skip.update(w.lower() for w in _WORD.findall(term))
    words: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for (text,) in session.execute(stmt):
        tokens = [t.lower().strip("'’-") for t in _WORD.findall(text)]
        tokens = [t for t in tokens if t not in skip and len(t) > 2]
        words.update(set(tokens))
        pairs.update({f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)})
    chosen: list[tuple[str, int]] = []
    strong_pairs = [(p, n) for p, n in pairs.most_common(limit * 2) if n >= 3]
    covered: set[str] = set()
    for phrase, n in strong_pairs:
        a, b = phrase.split(" ", 1)
        if n >= 0.5 * min(words[a], words[b]):
            chosen.append((phrase, n))
            covered.update((a, b))
    for word, n in words.most_common(limit * 2):
        if word not in covered and n >= 2:
            chosen.append((word, n))
    chosen.sort(key=lambda x: (-x[1], x[0]))
    return chosen[:limit]


def _minutes_expr(session: Session) -> sa.ColumnElement:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", col(Mention.first_response_at) - col(Mention.created_at)) / 60.0
    return (sa.func.julianday(col(Mention.first_response_at)) - sa.func.julianday(col(Mention.created_at))) * 1440.0


def response_times(
    session: Session,
    since: datetime,
    until: datetime,
    sla_minutes: int,
    *,
    brand_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
    intents: Sequence[str] = ("complaint", "question"),
) -> ResponseStats:
    """First-response time (mention posted → first reply sent) over complaints and questions in the range."""
    minutes = _minutes_expr(session)
    answered = col(Mention.first_response_at).is_not(None)
    stmt = select(
        sa.func.count(),
        sa.func.sum(sa.case((answered, 1), else_=0)),
        sa.func.sum(sa.case((sa.and_(answered, minutes <= sla_minutes), 1), else_=0)),
    ).where(_effective("intent").in_(list(intents)))
    total, n_answered, n_sla = session.execute(_scope(stmt, since, until, brand_ids, platforms)).one()
    median = p90 = None
    if n_answered:
        q = select(minutes).where(_effective("intent").in_(list(intents)), answered)
        values = sorted(float(v) for (v,) in session.execute(_scope(q, since, until, brand_ids, platforms)))
        median = round(_quantile(values, 0.5), 1)
        p90 = round(_quantile(values, 0.9), 1)
    return ResponseStats(actionable=int(total or 0), answered=int(n_answered or 0), within_sla=int(n_sla or 0),
                         sla_minutes=sla_minutes, median_minutes=median, p90_minutes=p90)


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def day_range(days: int, zone: ZoneInfo | str = "UTC", today: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the last `days` whole local days including today."""
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    today = today or datetime.now(zone).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
