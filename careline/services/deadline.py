"""The deadline rule, written once: when a mention is overdue and when its first response breached.

A mention is overdue when the clock is strictly after its `respond_by`: answering at the deadline itself is
on time. A first response breaches the target when it came strictly after `respond_by`; an unanswered
mention breaches once it is overdue. Every surface asks here, with Python values (`overdue`, `breached`)
or in SQL (`overdue_clause`, `breached_clause`), so the inbox's Overdue filter and its counts, the Due
text, the priority's time part and its refresh, escalation steps and their breach counts, and the care
metrics (Trends → Care, the weekly export) agree to the microsecond (tests/careline/care/test_deadline.py).

Which mentions can be overdue at all (open, unanswered) is `priority.due_clause` / `priority.time_left`;
this module only says when the time has come. It sits below services/priority.py and services/sla.py
(sla imports priority), so both import it and neither imports the other for it.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from careline.models import Mention


def overdue(respond_by: datetime | None, now: datetime) -> bool:
    """Past the deadline at `now`: strictly after it. No deadline is never overdue."""
    return respond_by is not None and now > respond_by


def breached(respond_by: datetime | None, first_response_at: datetime | None, now: datetime) -> bool:
    """The target missed: answered after the deadline, or unanswered and overdue at `now`."""
    return overdue(respond_by, first_response_at or now)


def overdue_clause(now: datetime) -> sa.ColumnElement[bool]:
    """`overdue` in SQL: respond_by < now (a NULL deadline is never true). A plain comparison on the
    column, so ix_mention_due serves it as a range; its negation is `respond_by >= now`."""
    return col(Mention.respond_by) < now


def breached_clause(now: datetime) -> sa.ColumnElement[bool]:
    """`breached` in SQL."""
    respond_by, first = col(Mention.respond_by), col(Mention.first_response_at)
    return sa.and_(respond_by.is_not(None),
                   sa.or_(first > respond_by, sa.and_(first.is_(None), overdue_clause(now))))
