"""Queueing replies into the outbox. Sending is `careline.services.outbox` (the sender job's side).

A reply row is written in the same transaction as the mention's status change and its audit event.
"""
from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import Mention, Reply, ReplyState, Status, utcnow
from careline.services import audit
from careline.services.priority import score_mention

ACTIVE_STATES = (ReplyState.queued.value, ReplyState.sending.value, ReplyState.sent.value, ReplyState.unknown.value)


def replies_for(session: Session, mention_id: int) -> list[Reply]:
    stmt = select(Reply).where(Reply.mention_id == mention_id).order_by(col(Reply.created_at))
    return list(session.exec(stmt))


def existing_active(session: Session, mention_id: int) -> list[Reply]:
    stmt = select(Reply).where(Reply.mention_id == mention_id, col(Reply.state).in_(ACTIVE_STATES))
    return list(session.exec(stmt))


def check_length(platform: str, text: str) -> None:
    """Raise InvalidInput when the text cannot be posted on this platform (see careline.textlimits)."""
    from careline.textlimits import check

    problem = check(platform, text)
    if problem:
        raise InvalidInput(problem)


def queue_reply(
    session: Session,
    mention_id: int,
    text: str,
    actor: str,
    *,
    kind: str = "reply",
    confirm_duplicate: bool = False,
    dry_run: bool = False,
) -> Reply:
    """Queue a reply. If one is already queued/sent for this mention, refuse unless confirmed."""
    text = text.strip()
    if not text:
        raise InvalidInput("A reply cannot be empty.")
    m = session.get(Mention, mention_id)
    if m is None:
        raise NotFound(f"Mention {mention_id} does not exist.")
    check_length(m.platform, text)
    others = existing_active(session, mention_id)
    if others and not confirm_duplicate:
        who = ", ".join(sorted({r.created_by for r in others}))
        raise Conflict(
            f"A reply to this mention is already {others[-1].state} (by {who}); confirm to send another."
        )
    reply = Reply(
        mention_id=mention_id,
        platform=m.platform,
        kind=kind,
        text=text,
        idempotency_key=uuid.uuid4().hex,
        created_by=actor,
        dry_run=dry_run,
        next_attempt_at=utcnow(),
    )
    session.add(reply)
    before = m.status
    if m.status in (Status.new.value, Status.assigned.value):
        m.status = Status.replied.value
    m.updated_at = utcnow()
    m.priority = score_mention(m)
    session.add(m)
    session.flush()
    audit.record(
        session, actor, "queue_reply", mention_id=mention_id, reply_id=reply.id, kind=kind, text=text,
        status_before=before, status_after=m.status,
    )
    session.commit()
    return reply


def cancel(session: Session, reply_id: int, actor: str) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise NotFound(f"Reply {reply_id} does not exist.")
    if reply.state != ReplyState.queued.value:
        raise Conflict(f"Reply {reply_id} is {reply.state}; only queued replies can be cancelled.")
    reply.state, reply.updated_at = ReplyState.cancelled.value, utcnow()
    session.add(reply)
    audit.record(session, actor, "cancel_reply", mention_id=reply.mention_id, reply_id=reply.id)
    session.commit()
    return reply
