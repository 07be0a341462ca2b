"""Queueing replies into the outbox. Sending is `careline.services.outbox` (the sender job's side).

A reply row is written in the same transaction as the mention's status change and its audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from careline import textlimits
from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import Mention, Reply, ReplyState, Status, utcnow
from careline.services import audit
from careline.services.priority import score_mention
from responders.keys import new_key

MASTODON_LIMIT_KEY = "mastodon_max_characters"  # learnt from the instance by the sender (services.outbox)

ACTIVE_STATES = (ReplyState.queued.value, ReplyState.sending.value, ReplyState.sent.value, ReplyState.unknown.value)


def replies_for(session: Session, mention_id: int) -> list[Reply]:
    stmt = select(Reply).where(Reply.mention_id == mention_id).order_by(col(Reply.created_at))
    return list(session.exec(stmt))


def existing_active(session: Session, mention_id: int) -> list[Reply]:
    stmt = select(Reply).where(Reply.mention_id == mention_id, col(Reply.state).in_(ACTIVE_STATES))
    return list(session.exec(stmt))


# Platforms Careline reads but cannot answer on, and what a person does instead.
NO_REPLY_API = {"hackernews": "Hacker News has no reply API: answer on the site, then set the status to replied."}


@dataclass(frozen=True)
class Size:
    """A reply's length as its platform counts the posted text (with the Mastodon @handle prefix)."""

    length: int
    limit: int
    problem: str | None  # the sentence queueing would refuse with, or None


def cannot_reply(platform: str) -> str | None:
    """Why replies cannot be posted on this platform at all (one sentence), or None."""
    return NO_REPLY_API.get(platform)


def check_length(platform: str, text: str, *, mastodon_limit: int = 500, reply_to_handle: str | None = None) -> None:
    """Raise InvalidInput when the text cannot be posted on this platform (see careline.textlimits)."""
    problem = cannot_reply(platform) or textlimits.check(platform, text, mastodon_limit=mastodon_limit,
                                                          reply_to_handle=reply_to_handle)
    if problem:
        raise InvalidInput(problem)


def measure(session: Session, mention: Mention, text: str) -> Size:
    """The composer's counter: the same rule queue_reply applies (the instance's learnt Mastodon limit,
    the @handle that Mastodon replies start with)."""
    n, cap, problem = textlimits.measure(mention.platform, text.strip(), mastodon_limit(session),
                                         reply_to_handle=mention.author_handle)
    return Size(n, cap, cannot_reply(mention.platform) or problem)


def mastodon_limit(session: Session) -> int:
    from careline.services import app_settings

    return int(app_settings.get(session, MASTODON_LIMIT_KEY, 500) or 500)


def _lock_mention(session: Session, mention_id: int) -> Mention | None:
    """Load the mention and hold it until commit, so two agents can't both pass the duplicate check.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite: an UPDATE takes the database's write lock before we look.
    """
    from careline.db import is_postgres

    if is_postgres(session):
        return session.get(Mention, mention_id, with_for_update=True)
    m = session.get(Mention, mention_id)
    if m is not None:
        m.updated_at = utcnow()
        session.add(m)
        session.flush()
        session.refresh(m)
    return m


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
    """Queue a reply. If one is already queued/sent for this mention, refuse unless confirmed.

    Commits on success; on refusal (too long, duplicate) the session is rolled back, so call it with no
    other unsaved changes pending in the session.
    """
    text = text.strip()
    if not text:
        raise InvalidInput("A reply cannot be empty.")
    m = _lock_mention(session, mention_id)
    if m is None:
        raise NotFound(f"Mention {mention_id} does not exist.")
    try:
        check_length(m.platform, text, mastodon_limit=mastodon_limit(session), reply_to_handle=m.author_handle)
    except InvalidInput:
        session.rollback()
        raise
    others = existing_active(session, mention_id)
    if others and not confirm_duplicate:
        session.rollback()
        who = ", ".join(sorted({r.created_by for r in others}))
        raise Conflict(
            f"A reply to this mention is already {others[-1].state} (by {who}); confirm to send another."
        )
    reply = Reply(
        mention_id=mention_id,
        platform=m.platform,
        kind=kind,
        text=text,
        idempotency_key=new_key(),
        created_by=actor,
        dry_run=dry_run,
        next_attempt_at=utcnow(),
    )
    session.add(reply)
    before = m.status
    # A dry run publishes nothing: the customer is not answered, so the mention stays open (issue #14).
    if m.status in (Status.new.value, Status.assigned.value) and not dry_run:
        m.status = Status.replied.value
    m.updated_at = utcnow()
    m.priority = score_mention(m)
    session.add(m)
    session.flush()  # the customer's open count follows the status in the flush (services/customer_counts.py)
    audit.record(
        session, actor, "queue_reply", mention_id=mention_id, reply_id=reply.id, kind=kind, text=text,
        status_before=before, status_after=m.status, dry_run=dry_run, confirmed_duplicate=bool(others),
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


def retry(session: Session, reply_id: int, actor: str) -> Reply:
    """Send a failed or unknown reply again. For `unknown`, the person confirms it was not posted."""
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise NotFound(f"Reply {reply_id} does not exist.")
    if reply.state not in (ReplyState.failed.value, ReplyState.unknown.value):
        raise Conflict(f"Reply {reply_id} is {reply.state}; only failed or unknown replies can be retried.")
    before = reply.state
    now = utcnow()
    reply.state, reply.next_attempt_at, reply.updated_at = ReplyState.queued.value, now, now
    reply.attempts, reply.lease_owner, reply.lease_expires_at = 0, None, None
    # The key is kept on purpose: where the platform honours it (Mastodon, Bluesky) a post that did go
    # through is returned instead of duplicated, even if the person was wrong.
    session.add(reply)
    m = session.get(Mention, reply.mention_id)
    if m is not None and m.status in (Status.new.value, Status.assigned.value):
        m.status, m.updated_at = Status.replied.value, now
        session.add(m)
    audit.record(session, actor, "retry_reply", mention_id=reply.mention_id, reply_id=reply.id,
                 state_before=before, previous_error=reply.error)
    session.commit()
    return reply


def mark_sent(session: Session, reply_id: int, actor: str, url: str | None = None,
              platform_reply_id: str | None = None) -> Reply:
    """A person checked the platform and found the reply posted: record it (never posts anything)."""
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise NotFound(f"Reply {reply_id} does not exist.")
    if reply.state not in (ReplyState.unknown.value, ReplyState.failed.value):
        raise Conflict(f"Reply {reply_id} is {reply.state}; only unknown or failed replies can be marked sent.")
    before, now = reply.state, utcnow()
    reply.state, reply.updated_at, reply.sent_at = ReplyState.sent.value, now, reply.sent_at or now
    reply.url = url or reply.url
    reply.platform_reply_id = platform_reply_id or reply.platform_reply_id
    reply.lease_owner = reply.lease_expires_at = None
    session.add(reply)
    m = session.get(Mention, reply.mention_id)
    if m is not None:
        m.first_response_at = m.first_response_at or now
        if m.status in (Status.new.value, Status.assigned.value):
            m.status = Status.replied.value
        m.updated_at = now
        session.add(m)
    audit.record(session, actor, "mark_reply_sent", mention_id=reply.mention_id, reply_id=reply.id,
                 state_before=before, url=url, platform_reply_id=platform_reply_id)
    session.commit()
    return reply


def list_outbox(
    session: Session, states: list[str] | None = None, limit: int = 100, since: datetime | None = None
) -> list[Reply]:
    """Newest first; the dashboard and `careline outbox` show these with their state, link or error."""
    stmt = select(Reply).order_by(col(Reply.id).desc()).limit(limit)
    if states:
        stmt = stmt.where(col(Reply.state).in_(states))
    if since is not None:
        stmt = stmt.where(col(Reply.created_at) >= since)
    return list(session.exec(stmt))


def record_external(session: Session, mention_id: int, actor: str, at: datetime, text: str = "",
                    url: str | None = None) -> Reply:
    """A person answered outside Careline (e.g. on Hacker News, or by phone): record when, so it counts as
    the first response. Nothing is posted; the outbox never sends a reply of kind "external". Audited."""
    from datetime import timezone

    m = session.get(Mention, mention_id)
    if m is None:
        raise NotFound(f"Mention {mention_id} does not exist.")
    if at.tzinfo is None:
        raise InvalidInput("Give the time of the outside reply with its time zone (e.g. 2026-11-20T14:05+01:00).")
    at = at.astimezone(timezone.utc)
    now = utcnow()
    if at > now + timedelta(minutes=5):
        raise InvalidInput("The outside reply's time is in the future.")
    if at < m.created_at:
        raise InvalidInput("The outside reply's time is before the post it answers.")
    reply = Reply(mention_id=mention_id, platform=m.platform, kind="external", text=text.strip() or "(answered outside Careline)",
                  state=ReplyState.sent.value, idempotency_key=new_key(), url=url or None, created_by=actor,
                  created_at=now, sent_at=at)
    session.add(reply)
    before = m.status
    m.first_response_at = min(m.first_response_at, at) if m.first_response_at else at
    if m.status in (Status.new.value, Status.assigned.value):
        m.status = Status.replied.value
    m.updated_at = now
    m.priority = score_mention(m)
    session.add(m)
    session.flush()
    audit.record(session, actor, "record_external_reply", mention_id=mention_id, reply_id=reply.id,
                 at=at.isoformat(), url=url, status_before=before, status_after=m.status)
    session.commit()
    return reply
