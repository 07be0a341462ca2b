"""Care metrics: first response time, time to resolution and breaches, per brand, team or agent.

Over complaints and questions posted in the range (a person's corrected intent wins); competitors' mentions
never count. Per brand, a post counts for every own brand it names (mention_brands' per-brand rule, as
the weekly report's summary rows and Trends count it); per team or agent, and in the breach list, each post
once. A response is the first reply actually sent, or one a person recorded as made outside
Careline; dry runs publish nothing and so never count. A breach is a mention first answered after its
`respond_by`, or still unanswered past it (services/deadline.py: strictly after it; at it is on time).
Aggregated in SQL: one grouped query for counts, one histogram of whole minutes per group for the
medians, so a 90-day range of a million mentions fetches no row each.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, Team
from careline.services import deadline, elapsed, mention_brands

ACTIONABLE = ("complaint", "question")
_S = TypeVar("_S", bound=sa.Select[Any])  # a select keeps its own type (sqlmodel's or Core's) through _scope
GROUPS = ("brand", "team", "agent")


@dataclass(frozen=True)
class CareRow:
    group: str
    actionable: int
    answered: int
    breached: int
    resolved: int
    median_first_response_min: float | None
    median_resolution_min: float | None

    @property
    def breach_share(self) -> float:
        return self.breached / self.actionable if self.actionable else 0.0


@dataclass(frozen=True)
class Breach:
    mention_id: int
    brand: str
    team: str
    agent: str
    created_at: datetime
    respond_by: datetime
    first_response_at: datetime | None
    late_minutes: float
    text: str


def _scope(stmt: _S, since: datetime, until: datetime) -> _S:
    intent = sa.func.coalesce(col(Mention.corrected_intent), col(Mention.intent))
    return (stmt.where(col(Mention.created_at) >= since, col(Mention.created_at) < until)
            .where(intent.in_(ACTIONABLE))
            .where(mention_brands.own_brand_clause()))


def _key(group: str) -> Any:  # a mapped column (sqlmodel types col() as Mapped)
    if group not in GROUPS:
        from careline.errors import InvalidInput

        raise InvalidInput(f"Group care metrics by {', '.join(GROUPS)}, not {group!r}.")
    return {"brand": col(Mention.brand_id), "team": col(Mention.team_id), "agent": col(Mention.assignee)}[group]


def _names(session: Session, group: str) -> dict[object, str]:
    if group == "brand":
        return {b.id: b.name for b in session.exec(select(Brand))}
    if group == "team":
        return {t.id: t.name for t in session.exec(select(Team))}
    return {}


def summary(session: Session, since: datetime, until: datetime, group: str = "brand",
            now: datetime | None = None) -> list[CareRow]:
    """One row per brand, team or agent (None = no team / unassigned), busiest first."""
    now = now or datetime.now(timezone.utc)
    totals: dict[object, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for stmt in _grouped(group, lambda key: sa.select(
            key, sa.func.count(), sa.func.count(col(Mention.first_response_at)),
            sa.func.sum(sa.case((deadline.breached_clause(now), 1), else_=0)), sa.func.count(col(Mention.resolved_at)))):
        for k, *counts in session.execute(_scope(stmt, since, until)).all():
            totals[k] = [t + int(c or 0) for t, c in zip(totals[k], counts)]
    frt = _histograms(session, since, until, group, col(Mention.first_response_at))
    ttr = _histograms(session, since, until, group, col(Mention.resolved_at))
    names = _names(session, group)
    empty = {"brand": "(no brand)", "team": "(no team)", "agent": "(unassigned)"}[group]
    out = [CareRow(group=empty if k is None else names.get(k, str(k)), actionable=n, answered=a, breached=b,
                   resolved=r, median_first_response_min=elapsed.quantile(frt.get(k), 0.5),
                   median_resolution_min=elapsed.quantile(ttr.get(k), 0.5))
           for k, (n, a, b, r) in totals.items()]
    return sorted(out, key=lambda row: (-row.actionable, row.group))


def _grouped(group: str, build: Callable[[Any], sa.Select[Any]]) -> list[sa.Select[Any]]:
    """`build(key)` grouped by the group's column. Per brand, the per-brand rule (mention_brands.per_brand_selects):
    the primary brand's rows plus a row for every other own brand a post names (a competitor it names never)."""
    key = _key(group)  # refuses an unknown group
    if group != "brand":
        return [build(key.label("k")).group_by(key)]

    def by_brand(brand: Any) -> sa.Select[Any]:  # _scope keeps to our own posts (own_brand_clause)
        return build(brand.label("k")).group_by(brand)
    return list(mention_brands.per_brand_selects(by_brand, own_only=True))


def _histograms(session: Session, since: datetime, until: datetime, group: str,
                end: Any) -> dict[object, Counter[int]]:
    bucket = elapsed.whole_minutes(session, end, col(Mention.created_at)).label("b")
    out: dict[object, Counter[int]] = defaultdict(Counter)
    for stmt in _grouped(group, lambda key: sa.select(key, bucket, sa.func.count()).where(end.is_not(None))):
        for k, b, n in session.execute(_scope(stmt.group_by(bucket), since, until)):
            out[k][int(b)] += int(n)
    return out


def breaches(session: Session, since: datetime, until: datetime, *, limit: int = 500,
             now: datetime | None = None, brand_ids: Sequence[int] | None = None) -> list[Breach]:
    """The breaches themselves, latest deadline first (then the newest mention): which mention, whose, how late."""
    now = now or datetime.now(timezone.utc)
    stmt = _scope(select(Mention), since, until).where(deadline.breached_clause(now))
    if brand_ids:  # a brand filter matches a post that names the brand (mention_brands' rule)
        stmt = stmt.where(mention_brands.brand_clause(brand_ids))
    stmt = stmt.order_by(col(Mention.respond_by).desc(), col(Mention.id).desc()).limit(limit)  # id: ties
    brands, teams = _names(session, "brand"), _names(session, "team")
    out = []
    for m in session.exec(stmt):
        assert m.respond_by is not None and m.id is not None
        late = ((m.first_response_at or now) - m.respond_by).total_seconds() / 60
        out.append(Breach(m.id, brands.get(m.brand_id, "(no brand)"), teams.get(m.team_id, ""), m.assignee or "",
                          m.created_at, m.respond_by, m.first_response_at, round(late, 1), m.text))
    return out
