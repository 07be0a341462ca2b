"""Care metrics: first response time, time to resolution and breaches, per brand, team or agent, and
the one first-response rule the weekly report and Trends read too (`first_responses`, `first_responses_by`).

Over complaints and questions posted in the range (a person's corrected intent wins): the posts that
needed a reply. Competitors' mentions never count, and response figures exist only for our own brands
(a filter of competitors alone is `not_measured`). A post its author deleted still counts: it was posted
and may have been answered. Per brand, a post counts for every own brand it names (mention_brands'
per-brand rule, as the weekly report's summary rows and Trends count it); per team or agent, in the
breach list and in an ungrouped figure, each post once. A response is the first reply actually sent, or
one a person recorded as made outside Careline; dry runs publish nothing and so never count. A first
response time is first_response_at - created_at on the clock (business hours shape the deadline, not the
measure). A breach is a mention first answered after its `respond_by`, or still unanswered past it
(services/deadline.py: strictly after it; at it is on time).
Aggregated in SQL: a histogram of whole seconds per group for each median (elapsed.quantile), the
resolution one carrying the breach count, so a 90-day range of a million mentions fetches a row per distinct second,
not one a post; only display rounds them (elapsed.display_minutes).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, Team
from careline.services import deadline, elapsed, mention_brands

ACTIONABLE = ("complaint", "question")
_S = TypeVar("_S", bound=sa.Select[Any])  # a select keeps its own type (sqlmodel's or Core's) through _scope
GROUPS = ("brand", "team", "agent")
OWN_BRANDS_ONLY = "Response times are measured for your own brands only."


@dataclass(frozen=True)
class FirstResponses:
    """First responses of one group, or of every post in scope once; `not_applicable` says why there are
    none to measure (the sentence a page shows instead of figures)."""

    actionable: int = 0  # complaints and questions: the posts that needed a reply
    answered: int = 0
    within_sla: int = 0  # answered at most sla_minutes after posting (0 when no target was asked for)
    sla_minutes: int | None = None
    seconds: Counter[int] = field(default_factory=Counter)  # whole seconds to the first response -> posts
    not_applicable: str | None = None

    @property
    def median_s(self) -> float | None:
        return elapsed.quantile(self.seconds, 0.5)

    @property
    def p90_s(self) -> float | None:
        return elapsed.quantile(self.seconds, 0.9)

    @property
    def answered_share(self) -> float:
        return self.answered / self.actionable if self.actionable else 0.0

    @property
    def within_sla_share(self) -> float:
        """Share of the posts that needed a reply answered within the SLA (unanswered ones count as missed)."""
        return self.within_sla / self.actionable if self.actionable else 0.0


def not_measured(sla_minutes: int | None = None) -> FirstResponses:
    """What a competitor's response times are: not ours to measure (no figures, one sentence)."""
    return FirstResponses(sla_minutes=sla_minutes, not_applicable=OWN_BRANDS_ONLY)


@dataclass(frozen=True)
class CareRow:
    group: str
    actionable: int
    answered: int
    breached: int
    resolved: int
    median_first_response_s: float | None  # exact seconds; elapsed.display_minutes for a page or a file
    median_resolution_s: float | None

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
    """One row per brand, team or agent (None = no team / unassigned), busiest first.

    Two scans of the range, not three: the breach and resolved counts ride on the resolution histogram
    (`_resolutions`), since both read the table's rows; the first-response histogram stays its own query,
    which per brand ix_mention_trends covers without reading a row (folding it in too measured no faster
    per brand). At 1,000,000 mentions over 90 days (var/bench/dashboard-1m.db, 3 runs interleaved with the
    three-scan version): SQLite (load 0.6-0.9) per brand 2.1-2.3 s -> 1.5 s, per team 3.9-4.1 s -> 2.9-3.0 s,
    per agent 3.8-4.6 s -> 2.7-3.1 s; PostgreSQL (load 0.2-1.1) per brand 0.85-1.05 s -> 0.59-0.62 s, per
    team 1.02-1.05 s -> 0.79-0.89 s, per agent 0.96-1.5 s -> 0.70-0.85 s."""
    now = now or datetime.now(timezone.utc)
    frt = first_responses_by(session, since, until, group)
    ttr, late = _resolutions(session, since, until, group, now)
    names = _names(session, group)
    empty = {"brand": "(no brand)", "team": "(no team)", "agent": "(unassigned)"}[group]
    out = [CareRow(group=empty if k is None else names.get(k, str(k)), actionable=f.actionable, answered=f.answered,
                   breached=late[k], resolved=sum(ttr[k].values()), median_first_response_s=f.median_s,
                   median_resolution_s=elapsed.quantile(ttr[k], 0.5))
           for k, f in frt.items()]
    return sorted(out, key=lambda row: (-row.actionable, row.group))


def first_responses_by(session: Session, since: datetime, until: datetime, group: str = "brand",
                       sla_minutes: int | None = None) -> dict[object, FirstResponses]:
    """First responses per brand (every own brand a post names), team or agent (None = no brand / team /
    unassigned); `sla_minutes`: also count those answered within it."""
    out: dict[object, Counter[tuple[int | None, int]]] = defaultdict(Counter)
    for stmt in _grouped(group, lambda key: _response_select(session, sla_minutes, key)):
        for k, seconds, ok, n in session.execute(_scope(stmt, since, until)):
            out[k][(seconds, ok)] += int(n)
    return {k: _figures(tally, sla_minutes) for k, tally in out.items()}


def first_responses(session: Session, since: datetime, until: datetime, *, sla_minutes: int | None = None,
                    brand_ids: Sequence[int] | None = None,
                    where: Sequence[sa.ColumnElement[bool]] = ()) -> FirstResponses:
    """First responses over every post in scope, each once; `brand_ids`: the posts that name one of these
    brands (mention_brands.brand_clause, the filter of Trends and the inbox). Competitors among them are
    left out, and a choice of competitors alone is `not_measured`: we answer our own customers, so our
    replies on posts naming a competitor are not the competitor's response times. `where`: the caller's
    further filters (Trends' platforms and tags)."""
    stmt = _response_select(session, sla_minutes).where(*where)
    if brand_ids:
        competitors = set(mention_brands.competitor_ids(session))
        own = [b for b in brand_ids if b not in competitors]
        if not own:
            return not_measured(sla_minutes)
        stmt = stmt.where(mention_brands.brand_clause(own))
    tally: Counter[tuple[int | None, int]] = Counter()
    for seconds, ok, n in session.execute(_scope(stmt, since, until)):
        tally[(seconds, ok)] += int(n)
    return _figures(tally, sla_minutes)


def _response_select(session: Session, sla_minutes: int | None, key: Any = None) -> sa.Select[Any]:
    """(key,) whole seconds to the first response (NULL: unanswered), within the SLA (1/0), posts; grouped
    by all but the count (the caller's _grouped adds the key's GROUP BY)."""
    responded, posted = col(Mention.first_response_at), col(Mention.created_at)
    seconds = elapsed.whole_seconds(session, responded, posted).label("s")
    # exact to the microsecond at the target (elapsed.within), which whole seconds are not
    ok = (sa.case((elapsed.within(session, responded, posted, sla_minutes), 1), else_=0) if sla_minutes is not None
          else sa.literal_column("0")).label("ok")
    cols = ([] if key is None else [key]) + [seconds, ok, sa.func.count()]
    return sa.select(*cols).group_by(seconds, *([ok] if sla_minutes is not None else []))


def _figures(tally: Counter[tuple[int | None, int]], sla_minutes: int | None) -> FirstResponses:
    seconds: Counter[int] = Counter()
    within = 0
    for (s, ok), n in tally.items():
        if s is not None:
            seconds[int(s)] += n
            within += n if ok else 0
    return FirstResponses(actionable=sum(tally.values()), answered=sum(seconds.values()), within_sla=within,
                          sla_minutes=sla_minutes, seconds=seconds)


def _grouped(group: str, build: Callable[[Any], sa.Select[Any]]) -> list[sa.Select[Any]]:
    """`build(key)` grouped by the group's column. Per brand, the per-brand rule (mention_brands.per_brand_selects):
    the primary brand's rows plus a row for every other own brand a post names (a competitor it names never)."""
    key = _key(group)  # refuses an unknown group
    if group != "brand":
        return [build(key.label("k")).group_by(key)]

    def by_brand(brand: Any) -> sa.Select[Any]:  # _scope keeps to our own posts (own_brand_clause)
        return build(brand.label("k")).group_by(brand)
    return list(mention_brands.per_brand_selects(by_brand, own_only=True))


def _resolutions(session: Session, since: datetime, until: datetime, group: str,
                 now: datetime) -> tuple[dict[object, Counter[int]], Counter[object]]:
    """Per group: posts per whole seconds to resolution (unresolved ones left out) and breaches, from one
    grouped query per select of the group (a NULL bucket holds the unresolved posts' breaches)."""
    resolved = col(Mention.resolved_at)
    bucket = elapsed.whole_seconds(session, resolved, col(Mention.created_at)).label("b")
    breached = sa.func.sum(sa.case((deadline.breached_clause(now), 1), else_=0))
    hist: dict[object, Counter[int]] = defaultdict(Counter)
    late: Counter[object] = Counter()
    for stmt in _grouped(group, lambda key: sa.select(key, bucket, sa.func.count(), breached)):
        for k, b, n, n_late in session.execute(_scope(stmt.group_by(bucket), since, until)):
            if b is not None:
                hist[k][int(b)] += int(n)
            late[k] += int(n_late or 0)
    return hist, late


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
