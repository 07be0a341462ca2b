"""Demo data for the Outbox page: one reply whose outcome is `unknown`, so the demo shows how to resolve it.

Idempotent (keyed by the reply's idempotency key). A dry run: nothing can reach a platform, even on retry.
"""
from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import Mention, Reply, ReplyState
from careline.services.priority import OPEN_STATUSES

log = logging.getLogger(__name__)
KEY = "demo-desk-unknown"


def seed(engine: Engine) -> int | None:
    """Add the demo's unknown reply to the least urgent open mention (out of the way of the top of the inbox);
    returns its id (None if there is no open mention)."""
    with Session(engine) as session:
        existing = session.exec(select(Reply).where(Reply.idempotency_key == KEY)).first()
        if existing is not None:
            return existing.id
        target = session.exec(select(Mention).where(col(Mention.status).in_(OPEN_STATUSES),
                                                    Mention.platform != "hackernews")
                              .order_by(col(Mention.priority), col(Mention.id)).limit(1)).first()
        if target is None or target.id is None:
            log.warning("demo: no open mention to hang the outbox example on")
            return None
        reply = Reply(mention_id=target.id, platform=target.platform, text="So sorry about this! Could you DM us "
                      "your booking reference so we can sort it out?", state=ReplyState.unknown.value,
                      idempotency_key=KEY, dry_run=True, attempts=1, created_by="agent",
                      error="Demo: the connection dropped after the post was sent, so it may be online. Check "
                            "the thread, then mark it sent with its link or retry it.")
        session.add(reply)
        session.commit()
        return reply.id
