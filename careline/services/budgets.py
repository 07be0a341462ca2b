"""Platform budgets: X bills reads per post with a monthly cap, so Careline counts what it reads.

Every committed page adds the posts it returned to this month's row (`platform_usage`, calendar months in
UTC), in the same transaction as the page, so the count is exact however collection is interrupted. The
cost estimate is that count times `CARELINE_X_PRICE_PER_POST`. At `CARELINE_X_BUDGET_ALERT_SHARE` of the
budget one alert is raised (delivered like the spike alerts); at the budget, X collection stops with one
message until the month turns or the budget is raised. The plan's own cap and usage, where X's usage
endpoint (GET /2/usage/tweets) is open to the plan, are stored beside ours and the lower limit wins.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from careline.models import Alert, PlatformUsage, utcnow
from careline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """One platform's monthly read budget (posts), the price per post read, and when to warn."""

    platform: str
    monthly_posts: int | None = None
    price_per_post: float = 0.0
    alert_share: float = 0.8
    currency: str = "USD"

    @classmethod
    def for_source(cls, name: str, settings: Settings) -> "Budget | None":
        """The budget a source collects under (X only: the others do not bill per read)."""
        if name != "x":
            return None
        return cls("x", settings.x_monthly_post_budget, settings.x_price_per_post, settings.x_budget_alert_share)


def month_of(now: datetime | None = None) -> str:
    return (now or utcnow()).astimezone(timezone.utc).strftime("%Y-%m")


def next_month(now: datetime | None = None) -> datetime:
    now = (now or utcnow()).astimezone(timezone.utc)
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)


def usage(session: Session, platform: str, now: datetime | None = None) -> PlatformUsage:
    """This month's row (created empty when missing; the caller commits)."""
    month = month_of(now)
    row = session.get(PlatformUsage, (platform, month))
    if row is None:
        row = PlatformUsage(platform=platform, month=month)
        try:
            with session.begin_nested():  # two collectors may start the month at once
                session.add(row)
        except IntegrityError:
            won = session.get(PlatformUsage, (platform, month))
            assert won is not None  # the other collector's row, which made ours fail
            row = won
    return row


def record_reads(session: Session, budget: Budget, reads: int, calls: int, now: datetime | None = None) -> None:
    """Add one page's reads (in the page's transaction) and raise the alert when the share is crossed.

    One UPDATE ... RETURNING, the row made by `usage` the first time a month is read: the ORM's read and
    flush of the row, with exhausted's read, were ~4% of a collector run's CPU (docs/collectors.md)."""
    month = month_of(now)
    params = {"p": budget.platform, "m": month, "n_reads": max(0, reads), "n_calls": max(0, calls), "at": utcnow()}
    row = session.connection().execute(_COUNT_READS, params).first()
    if row is None:  # the month's first read: make the row, then count
        usage(session, budget.platform, now)
        session.flush()
        row = session.connection().execute(_COUNT_READS, params).first()
    assert row is not None
    _expire(session, budget.platform, month)
    before = row.reads - max(0, reads)
    limit = effective_limit(budget, row)
    if limit and before < budget.alert_share * limit <= row.reads:
        _alert(session, budget, row, limit)


def _table() -> sa.Table:
    return PlatformUsage.__table__  # type: ignore[attr-defined,no-any-return]


def _limit_columns(t: sa.Table) -> tuple[Any, ...]:
    """What effective_limit and the alert read of a month's row."""
    return t.c.platform, t.c.month, t.c.reads, t.c.plan_cap, t.c.plan_used, t.c.plan_reads_at_check


# a page's two statements, built once with named parameters (building them and their cache keys was
# about half their client CPU, every page)
_PU = _table()
_MONTH = sa.and_(_PU.c.platform == sa.bindparam("p"), _PU.c.month == sa.bindparam("m"))
_MONTH_ROW = sa.select(*_limit_columns(_PU)).where(_MONTH)
_COUNT_READS = sa.update(_PU).where(_MONTH).values(
    reads=_PU.c.reads + sa.bindparam("n_reads"), calls=_PU.c.calls + sa.bindparam("n_calls"),
    updated_at=sa.bindparam("at", type_=_PU.c.updated_at.type)).returning(*_limit_columns(_PU))


def _expire(session: Session, platform: str, month: str) -> None:
    """A PlatformUsage the session holds is stale after a Core write: read it again when next used."""
    held = session.identity_map.get(identity_key(PlatformUsage, (platform, month)))
    if held is not None:
        session.expire(held)


def record_plan(session: Session, platform: str, cap: int | None, used: int | None, reset_day: int | None,
                now: datetime | None = None) -> None:
    """What the platform's usage endpoint says about the plan: its cap, this project's usage, its reset day."""
    row = usage(session, platform, now)
    row.plan_cap, row.plan_used, row.plan_reset_day = cap, used, reset_day
    row.plan_reads_at_check = row.reads
    row.plan_checked_at = utcnow()
    session.add(row)
    session.commit()


def effective_limit(budget: Budget, row: Any) -> int | None:
    """The configured budget or what the plan has left this month, whichever is lower."""
    limits = [budget.monthly_posts] if budget.monthly_posts else []
    if row.plan_cap is not None and row.plan_used is not None:
        # what X said was left when asked, on top of what we had read by then
        limits.append(row.plan_reads_at_check + max(0, row.plan_cap - row.plan_used))
    return min(limits) if limits else None


def exhausted(session: Session, budget: Budget, now: datetime | None = None, pending: int = 0) -> str | None:
    """The one sentence that stops collection when the month's budget is used up, else None (one Core
    read: nothing read this month yet is no row, and no budget is used up). `pending`: reads of pages a
    collector run has fetched but not written yet (services/collection.py writes pages in groups); they
    count as read, since the platform has billed them."""
    row = session.connection().execute(_MONTH_ROW, {"p": budget.platform, "m": month_of(now)}).first()
    if row is None and not pending:
        return None
    limit = effective_limit(budget, row) if row is not None else (budget.monthly_posts or None)
    reads = (row.reads if row is not None else 0) + max(0, pending)
    if limit is None or reads < limit:
        return None
    return (f"The {budget.platform.upper()} budget for {month_of(now)} is used up: {reads:,} of {limit:,} post "
            f"reads{_cost(budget, reads)}. {budget.platform.upper()} collection is stopped until "
            f"{next_month(now):%d %b %Y} 00:00 UTC; raise CARELINE_X_MONTHLY_POST_BUDGET to go on sooner.")


def describe(session: Session, budget: Budget | None, now: datetime | None = None) -> str | None:
    """One line for Sources and `careline sources`, or None when nothing was read and no budget is set
    (or the source has no budget: only X bills per read)."""
    if budget is None:
        return None
    row = session.get(PlatformUsage, (budget.platform, month_of(now)))
    if row is None and not budget.monthly_posts:
        return None
    reads = row.reads if row else 0
    limit = effective_limit(budget, row) if row else budget.monthly_posts
    share = f" ({reads / limit:.0%})" if limit else ""
    text = f"{reads:,} post reads this month{f' of {limit:,}' if limit else ''}{share}{_cost(budget, reads)}"
    if row is not None and row.plan_cap is not None:
        text += f"; plan: {row.plan_used or 0:,} of {row.plan_cap:,} used"
        if row.plan_reset_day:
            text += f", resets on day {row.plan_reset_day}"
    return text


def _cost(budget: Budget, reads: int) -> str:
    if not budget.price_per_post:
        return ""
    return f", about {reads * budget.price_per_post:,.2f} {budget.currency} at {budget.price_per_post:g} per post"


def _alert(session: Session, budget: Budget, row: Any, limit: int) -> None:
    message = (f"{budget.platform.upper()} has used {row.reads:,} of its {limit:,} post reads for {row.month} "
               f"({row.reads / limit:.0%}){_cost(budget, row.reads)}; collection stops at the budget.")
    alert = Alert(kind=f"{budget.platform}_budget", dedup_key=f"{budget.platform}_budget:{row.month}",
                  message=message, detail={"reads": row.reads, "limit": limit, "month": row.month})
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return  # already raised this month
    log.warning("%s", message)
