"""Routing conditions about the customer behind a mention (issue #16), registered in routing's registry:

    {"customer_vip": true}                                  the customer is marked VIP
    {"complaints_within": {"count": 3, "days": 7}}          at least the 3rd complaint in 7 days, any platform
    {"customer_open_cases": 1}                              the customer has at least 1 other open case

History counts every identity of the customer (linked across platforms) and our brands only; the mention
being routed counts itself when it is a complaint, whether or not its labels are stored yet. Open cases
leave out posts their author deleted, as the customer's open count does.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.errors import InvalidInput
from careline.models import Customer, CustomerIdentity, Mention
from careline.services import customer_counts, mention_brands
from careline.services.routing_registry import Context, Test, condition


def _customer_id(session: Session, m: Mention) -> int | None:
    if not m.author_handle:
        return None
    return session.exec(select(CustomerIdentity.customer_id).where(
        CustomerIdentity.platform == m.platform, CustomerIdentity.handle == m.author_handle)).first()


def _their_mentions(session: Session, customer_id: int) -> Any:
    """Conditions for the customer's posts about our brands: one (handle, platform) pair per identity, so
    each is an index range (ix_mention_author_timeline), never a scan of every mention."""
    ci = CustomerIdentity
    mine = session.exec(select(ci.platform, ci.handle).where(ci.customer_id == customer_id)).all()
    return (sa.or_(sa.false(), *[sa.and_(col(Mention.author_handle) == h, col(Mention.platform) == p) for p, h in mine]),
            mention_brands.own_brand_clause())


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"Condition {what!r} needs a whole number of at least 1.")
    return value


@condition("customer_vip")
def _vip(value: Any, ctx: Context) -> Test:
    if not isinstance(value, bool):
        raise InvalidInput("Condition 'customer_vip' must be true or false.")

    def test(m: Mention) -> bool:
        cid = _customer_id(ctx.session, m)
        vip = bool(cid and ctx.session.exec(select(Customer.vip).where(Customer.id == cid)).first())
        return vip is value
    return test


@condition("complaints_within")
def _complaints_within(value: Any, ctx: Context) -> Test:
    if not isinstance(value, dict) or set(value) != {"count", "days"}:
        raise InvalidInput("Condition 'complaints_within' needs {\"count\": N, \"days\": D}, e.g. 3 in 7 days.")
    count, days = _positive(value["count"], "complaints_within count"), _positive(value["days"], "complaints_within days")

    def test(m: Mention) -> bool:
        this = 1 if (m.corrected_intent or m.intent) == "complaint" else 0
        cid = _customer_id(ctx.session, m)
        if cid is None:
            return this >= count
        since = m.created_at - timedelta(days=days)
        earlier = ctx.session.exec(select(sa.func.count()).select_from(Mention).where(
            *_their_mentions(ctx.session, cid), Mention.id != m.id, Mention.created_at >= since, Mention.created_at <= m.created_at,
            col(Mention.classified_at).is_not(None),
            sa.func.coalesce(Mention.corrected_intent, Mention.intent) == "complaint")).one()
        return earlier + this >= count
    return test


@condition("customer_open_cases")
def _open_cases(value: Any, ctx: Context) -> Test:
    least = _positive(value, "customer_open_cases")

    def test(m: Mention) -> bool:
        cid = _customer_id(ctx.session, m)
        if cid is None:
            return False
        mine = m.case_id or m.id
        # open as the customer's open count has it (customer_counts.open_clause: a deleted post is not)
        n = ctx.session.exec(select(sa.func.count(sa.distinct(sa.func.coalesce(Mention.case_id, Mention.id)))).where(
            *_their_mentions(ctx.session, cid), customer_counts.open_clause(Mention.__table__),  # type: ignore[attr-defined]
            sa.func.coalesce(Mention.case_id, Mention.id) != mine)).one()
        return n >= least
    return test
