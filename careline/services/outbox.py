"""The sender side of the outbox: claim due replies, post them through the platform Responder, record.

Only this module moves a reply past `queued`:

    queued ──claim──► sending ──posted──────────────► sent
                         ├──refused─────────────────► failed   (platform's reason, never retried)
                         ├──rate limited / transient─► queued   (next_attempt_at later, order kept)
                         └──outcome uncertain────────► sending  (lease shortened: checked again soon)
    sending, lease expired ──find_existing_reply──► sent | queued (surely not posted) | unknown

A row found in `sending` with an expired lease means a sender died (or a request ended ambiguously)
after the platform may have accepted the post. It is never posted again blindly: the Responder looks for
our reply first, and `unknown` (could not tell) waits for a person (`careline outbox`).
Claims use `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL and a guarded UPDATE everywhere, so any
number of senders can run. Every attempt writes an AuditEvent in the transaction that records it.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.coordination import worker_id
from careline.db import is_postgres, rowcount
from careline.errors import CarelineError
from careline.models import Author, Mention, Reply, ReplyState, Status, utcnow
from careline.services import app_settings, audit
from careline.services.replies import MASTODON_LIMIT_KEY
from collectors.ratelimit import backoff_delay
from responders.base import (
    OutcomeUnknown,
    PostedReply,
    RateLimited,
    ReplyError,
    ReplyRejected,
    ReplyTarget,
    Responder,
)
from responders.dry_run import DryRunResponder

log = logging.getLogger(__name__)
SENDER = "sender"
LEASE = timedelta(minutes=5)          # far longer than one post takes (HTTP timeouts are 30 s)
RECHECK_AFTER = timedelta(minutes=2)  # after an ambiguous answer, give the platform time to show the post
# A post the platform accepted can take a while to show on the timeline recovery reads (X's is eventually
# consistent): "not found" only counts as "not posted" this long after the attempt; before, check again.
SETTLE = timedelta(minutes=10)
BACKOFF_BASE, BACKOFF_CAP = timedelta(seconds=30), timedelta(minutes=30)
MAX_ATTEMPTS = 6                      # transient errors
MAX_RATE_LIMITED_ATTEMPTS = 20        # waits for a rate limit (each one honours the platform's reset time)
LIMITS_RECHECK = timedelta(hours=6)   # how often a process re-reads an instance's post length limit
_LIMITS_CHECKED: dict[str, datetime] = {}
LIKE_SETTING = "like_thanked_posts"   # app setting: also like the post when thanking an advocate (X)
QUEUED, SENDING, SENT = ReplyState.queued.value, ReplyState.sending.value, ReplyState.sent.value
FAILED, UNKNOWN = ReplyState.failed.value, ReplyState.unknown.value


def backoff(attempts: int) -> timedelta:
    """The wait before retrying a reply after `attempts` tries: the collectors' backoff (exponential with
    equal jitter, so many workers' retries never line up), 30 s doubling up to 30 min."""
    return timedelta(seconds=backoff_delay(max(attempts - 1, 0), BACKOFF_BASE.total_seconds(),
                                           BACKOFF_CAP.total_seconds()))


@dataclass
class SendSummary:
    sent: int = 0
    dry_run: int = 0
    failed: int = 0
    waiting: int = 0
    unknown: int = 0
    checking: int = 0
    reply_ids: list[int] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class _Sender:
    def __init__(self, settings: Any, engine: Engine, responders: Mapping[str, Responder] | None,
                 owner: str, now: datetime | None) -> None:
        self.settings, self.engine, self.owner = settings, engine, owner
        self._fixed_now = now
        self.given = dict(responders or {})
        self.built: dict[str, Responder] = {}
        self.paused: set[str] = set()  # platforms rate-limited during this run
        self.requeued: set[int] = set()  # found "not posted" by recovery: never posted again in this pass
        self.summary = SendSummary()

    @property
    def now(self) -> datetime:
        # Read the clock each time: a pass can last minutes, and a lease dated from its start could be
        # expired the moment it is taken. Tests pin the time instead.
        return self._fixed_now or utcnow()

    # ---- building blocks -------------------------------------------------------------------------
    def responder(self, reply: Reply) -> Responder:
        if reply.dry_run:
            return DryRunResponder(reply.platform, "queued as a dry run")
        if reply.platform not in self.built:
            built = self.given.get(reply.platform)
            if built is None:
                from careline.factory import build_responder

                built = build_responder(reply.platform, self.settings)
            self.built[reply.platform] = built
            self._learn_limits(built)
        return self.built[reply.platform]

    def _learn_limits(self, responder: Responder) -> None:
        """Store the platform's post length limit (Mastodon instances publish theirs) for queue-time checks."""
        probe = getattr(responder, "max_characters", None)
        last = _LIMITS_CHECKED.get(responder.platform)
        if probe is None or (last is not None and utcnow() - last < LIMITS_RECHECK):
            return
        _LIMITS_CHECKED[responder.platform] = utcnow()
        try:
            value = probe()
            if value:
                with Session(self.engine) as session:
                    if app_settings.get(session, MASTODON_LIMIT_KEY) != int(value):
                        app_settings.put(session, MASTODON_LIMIT_KEY, int(value))
        except Exception:  # noqa: BLE001 - the limit is a nicety (and two senders may race to store it)
            log.warning("could not read or store the post length limit for %s", responder.platform, exc_info=True)

    def target(self, reply: Reply) -> ReplyTarget:
        with Session(self.engine) as session:
            m = session.get(Mention, reply.mention_id)
            if m is None:
                raise ReplyRejected("The mention this reply answers was deleted from Careline.")
            return ReplyTarget(platform=m.platform, external_id=m.external_id, url=m.url,
                               author_handle=m.author_handle, thread_id=m.thread_id, parent_id=m.parent_id,
                               raw=dict(m.raw or {}))

    def claim(self, expired: bool, only_ids: list[int] | None) -> Reply | None:
        """Take one row: queued and due (expired=False) or sending with a lapsed lease (expired=True)."""
        pg = is_postgres(self.engine)
        for _ in range(8):
            with Session(self.engine, expire_on_commit=False) as session:
                if expired:
                    due = (col(Reply.state) == SENDING) & or_(col(Reply.lease_expires_at).is_(None),
                                                              col(Reply.lease_expires_at) < self.now)
                else:
                    due = (col(Reply.state) == QUEUED) & or_(col(Reply.next_attempt_at).is_(None),
                                                             col(Reply.next_attempt_at) <= self.now)
                stmt = select(Reply.id).where(due).order_by(col(Reply.id)).limit(1)
                if self.paused and not expired:
                    stmt = stmt.where(col(Reply.platform).not_in(self.paused))
                if self.requeued and not expired:
                    stmt = stmt.where(col(Reply.id).not_in(self.requeued))
                if only_ids is not None:
                    stmt = stmt.where(col(Reply.id).in_(only_ids))
                if pg:
                    stmt = stmt.with_for_update(skip_locked=True)
                rid = session.exec(stmt).first()
                if rid is None:
                    return None
                if not pg:
                    # SQLite: end the read first; the guarded UPDATE below then runs on a fresh snapshot
                    session.rollback()
                values: dict[str, Any] = {"lease_owner": self.owner, "lease_expires_at": self.now + LEASE,
                                          "updated_at": self.now}
                if not expired:
                    values.update(state=SENDING, attempts=Reply.attempts + 1, attempted_at=self.now)
                result = session.execute(update(Reply).where(col(Reply.id) == rid, due).values(**values)
                                         .execution_options(synchronize_session=False))
                if rowcount(result) != 1:  # another sender took it between our read and our write
                    session.rollback()
                    continue
                session.commit()
                return session.get(Reply, rid, populate_existing=True)
        return None

    def finish(self, reply: Reply, values: dict[str, Any], result: str, **detail: Any) -> bool:
        """Record one attempt's outcome, guarded by our lease, with its audit event, in one transaction."""
        with Session(self.engine, expire_on_commit=False) as session:
            guard = (col(Reply.id) == reply.id) & (col(Reply.state) == SENDING) & (col(Reply.lease_owner) == self.owner)
            stmt = update(Reply).where(guard).values(updated_at=self.now, **values)
            ok = rowcount(session.execute(stmt.execution_options(synchronize_session=False))) == 1
            if not ok:
                log.warning("reply %s: lease lost before recording %s; another sender will check it", reply.id, result)
            audit.record(
                session, SENDER, "send_reply", mention_id=reply.mention_id, reply_id=reply.id,
                platform=reply.platform, approved_by=reply.created_by, text=reply.text, attempt=reply.attempts,
                result=result if ok else f"{result} (lease lost, not recorded)", worker=self.owner, **detail,
            )
            if ok and values.get("state") == SENT and not values.get("dry_run"):
                self._mention_answered(session, reply, values.get("sent_at") or self.now)
            if ok and values.get("state") == FAILED:
                self._mention_unanswered(session, reply)
            session.commit()
        return ok

    def _mention_answered(self, session: Session, reply: Reply, at: datetime) -> None:
        m = session.get(Mention, reply.mention_id)
        if m is None:
            return
        m.first_response_at = m.first_response_at or at
        session.add(m)
        if reply.kind == "thanks" and m.author_handle:
            author = session.exec(select(Author).where(Author.platform == m.platform,
                                                       Author.handle == m.author_handle)).first()
            if author is not None:
                author.last_thanked_at = at
                session.add(author)

    def _mention_unanswered(self, session: Session, reply: Reply) -> None:
        """A failed reply no longer answers the mention: put it back in the inbox unless another one does."""
        m = session.get(Mention, reply.mention_id)
        if m is None or m.status != Status.replied.value:
            return
        others = session.exec(select(Reply.id).where(
            Reply.mention_id == reply.mention_id, Reply.id != reply.id,
            col(Reply.state).in_((QUEUED, SENDING, SENT, UNKNOWN)))).first()
        if others is None:
            m.status = Status.assigned.value if m.assignee else Status.new.value
            m.updated_at = self.now
            session.add(m)

    # ---- outcomes ----------------------------------------------------------------------------------
    def sent(self, reply: Reply, posted: PostedReply, how: str, responder: Responder) -> None:
        dry = bool(reply.dry_run or posted.dry_run)
        note = None
        if not dry and not posted.platform_reply_id:
            note = f"{reply.platform} accepted the reply but did not return it, so there is no link."
        values = {"state": SENT, "platform_reply_id": posted.platform_reply_id, "url": posted.url,
                  "sent_at": posted.posted_at or self.now, "dry_run": dry, "error": note,
                  "lease_owner": None, "lease_expires_at": None, "next_attempt_at": None}
        extra = self._maybe_like(reply, responder) if not dry and how == "posted" else {}
        if self.finish(reply, values, how, platform_reply_id=posted.platform_reply_id, url=posted.url,
                       dry_run=dry, dry_run_reason=getattr(responder, "reason", None) if dry else None, **extra):
            self.summary.sent += 1
            self.summary.dry_run += int(dry)

    def _maybe_like(self, reply: Reply, responder: Responder) -> dict[str, Any]:
        like = getattr(responder, "like", None)
        if reply.kind != "thanks" or like is None:
            return {}
        with Session(self.engine) as session:
            if not app_settings.get(session, LIKE_SETTING, False):
                return {}
        try:
            like(self.target(reply))
            return {"liked": True}
        except ReplyError as exc:
            return {"liked": False, "like_error": str(exc)}

    def failed(self, reply: Reply, reason: str, result: str = "failed") -> None:
        values = {"state": FAILED, "error": reason, "lease_owner": None, "lease_expires_at": None,
                  "next_attempt_at": None}
        if self.finish(reply, values, result, error=reason):
            self.summary.failed += 1

    def rate_limited(self, reply: Reply, exc: RateLimited) -> None:
        if reply.attempts >= MAX_RATE_LIMITED_ATTEMPTS:
            self.failed(reply, f"Gave up after {reply.attempts} attempts, still rate limited: {exc}", "gave_up")
            return
        retry_at = max(exc.retry_at or self.now + backoff(reply.attempts), self.now + timedelta(seconds=5))
        message = f"{exc} Waiting until {retry_at:%Y-%m-%d %H:%M:%S} UTC."
        values = {"state": QUEUED, "next_attempt_at": retry_at, "error": message,
                  "lease_owner": None, "lease_expires_at": None}
        if self.finish(reply, values, "rate_limited", error=str(exc), retry_at=_iso(retry_at)):
            self.summary.waiting += 1
        # Keep the queue order: replies queued behind this one on the same platform wait as long.
        with Session(self.engine) as session:
            session.execute(update(Reply).where(
                col(Reply.platform) == reply.platform, col(Reply.state) == QUEUED, col(Reply.id) != reply.id,
                or_(col(Reply.next_attempt_at).is_(None), col(Reply.next_attempt_at) < retry_at),
            ).values(next_attempt_at=retry_at, error=f"Waiting for the {reply.platform} rate limit until "
                                                     f"{retry_at:%H:%M:%S} UTC."))
            session.commit()
        self.paused.add(reply.platform)

    def transient(self, reply: Reply, reason: str) -> None:
        if reply.attempts >= MAX_ATTEMPTS:
            self.failed(reply, f"Gave up after {reply.attempts} attempts: {reason}", "gave_up")
            return
        retry_at = self.now + backoff(reply.attempts)
        values = {"state": QUEUED, "next_attempt_at": retry_at, "error": f"{reason} Retrying at {retry_at:%H:%M:%S} UTC.",
                  "lease_owner": None, "lease_expires_at": None}
        if self.finish(reply, values, "retry_later", error=reason, retry_at=_iso(retry_at)):
            self.summary.waiting += 1

    def uncertain(self, reply: Reply, reason: str) -> None:
        check_at = self.now + RECHECK_AFTER
        values = {"lease_expires_at": check_at, "error": f"{reason} Checking whether it was posted at {check_at:%H:%M:%S} UTC."}
        if self.finish(reply, values, "outcome_uncertain", error=reason):
            self.summary.checking += 1

    def unknown(self, reply: Reply, reason: str) -> None:
        message = (f"Could not tell whether {reply.platform} published this reply ({reason}) Check the post, then "
                   f"run `careline outbox --mark-sent {reply.id} --url URL` or `careline outbox --retry {reply.id}`.")
        values = {"state": UNKNOWN, "error": message, "lease_owner": None, "lease_expires_at": None,
                  "next_attempt_at": None}
        if self.finish(reply, values, "unknown", error=reason):
            self.summary.unknown += 1

    # ---- the two paths ------------------------------------------------------------------------------
    def send(self, reply: Reply) -> None:
        try:
            responder = self.responder(reply)
            target = self.target(reply)
        except ReplyRejected as exc:
            self.failed(reply, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - nothing reached the platform yet: safe to retry later
            log.warning("reply %s: could not prepare the %s client", reply.id, reply.platform, exc_info=True)
            self.transient(reply, f"Could not prepare the {reply.platform} client: {exc}")
            return
        try:
            posted = responder.reply(target, reply.text, reply.idempotency_key)
        except RateLimited as exc:
            self.rate_limited(reply, exc)
        except ReplyRejected as exc:
            self.failed(reply, str(exc))
        except OutcomeUnknown as exc:
            self.uncertain(reply, str(exc))
        except (ReplyError, CarelineError) as exc:
            self.transient(reply, str(exc))
        except Exception as exc:  # noqa: BLE001 - an SDK surprise may come after the post went out
            log.exception("reply %s: unexpected error while posting", reply.id)
            self.uncertain(reply, f"Unexpected error while posting ({type(exc).__name__}).")
        else:
            self.sent(reply, posted, "posted", responder)

    def recover(self, reply: Reply) -> None:
        """Settle a reply whose sender died (or whose outcome was unclear) without ever posting twice.

        Only this reply counts as found: the responder matches our key or our exact text, and a post
        already recorded for another reply (the brand's earlier answer) is never taken for this one.
        "Not found" counts as "not posted" only once the attempt is SETTLE old; until then we look again
        later, and a reply requeued here waits for the next pass (a lost post may still appear).
        """
        try:
            responder = self.responder(reply)
            found = responder.find_existing_reply(self.target(reply), reply.idempotency_key, text=reply.text)
        except RateLimited as exc:
            retry_at = exc.retry_at or self.now + backoff(reply.attempts)
            self.finish(reply, {"lease_expires_at": retry_at}, "check_rate_limited", error=str(exc))
            self.summary.checking += 1
            return
        except (ReplyError, CarelineError) as exc:
            self.unknown(reply, str(exc))
            return
        except Exception as exc:  # noqa: BLE001
            log.exception("reply %s: unexpected error while checking", reply.id)
            self.unknown(reply, f"unexpected {type(exc).__name__} while checking")
            return
        if found is not None and self._belongs_to_another(reply, found):
            log.warning("reply %s: the post found (%s) is recorded for another reply; not this one",
                        reply.id, found.platform_reply_id)
            found = None
        if found is not None:
            self.sent(reply, found, "found_existing", responder)
            return
        settle_at = (reply.attempted_at or reply.updated_at or self.now) + SETTLE
        if self.now < settle_at and not reply.dry_run:
            values = {"lease_expires_at": settle_at,
                      "error": f"Not on {reply.platform} yet; a post can take a while to show, so Careline "
                               f"checks again at {settle_at:%H:%M:%S} UTC before sending it again."}
            if self.finish(reply, values, "not_visible_yet", check_at=_iso(settle_at)):
                self.summary.checking += 1
        elif reply.attempts >= MAX_ATTEMPTS:
            self.failed(reply, f"Gave up after {reply.attempts} attempts (checked: not posted).", "gave_up")
        else:
            values = {"state": QUEUED, "next_attempt_at": self.now, "lease_owner": None, "lease_expires_at": None,
                      "error": "Not posted (checked after an interrupted attempt); sending again."}
            if self.finish(reply, values, "not_posted_requeued"):
                self.requeued.add(reply.id)  # type: ignore[arg-type]

    def _belongs_to_another(self, reply: Reply, found: PostedReply) -> bool:
        if not found.platform_reply_id:
            return False
        with Session(self.engine) as session:
            other = session.exec(select(Reply.id).where(
                Reply.platform == reply.platform, Reply.platform_reply_id == found.platform_reply_id,
                Reply.id != reply.id)).first()
        return other is not None


def send_due(
    settings: Any,
    engine: Engine,
    *,
    responders: Mapping[str, Responder] | None = None,
    owner: str | None = None,
    now: datetime | None = None,
    limit: int = 50,
    only_ids: list[int] | None = None,
) -> int:
    """Post due replies (at most `limit` attempts); returns how many were sent or dry-run recorded."""
    return run(settings, engine, responders=responders, owner=owner, now=now, limit=limit, only_ids=only_ids).sent


def run(
    settings: Any,
    engine: Engine,
    *,
    responders: Mapping[str, Responder] | None = None,
    owner: str | None = None,
    now: datetime | None = None,
    limit: int = 50,
    only_ids: list[int] | None = None,
) -> SendSummary:
    """One pass: first settle interrupted sends (expired leases), then post what is due, oldest first."""
    sender = _Sender(settings, engine, responders, owner or worker_id("send"), now)
    for expired in (True, False):
        for _ in range(limit):
            reply = sender.claim(expired, only_ids)
            if reply is None:
                break
            sender.summary.reply_ids.append(reply.id)  # type: ignore[arg-type]
            (sender.recover if expired else sender.send)(reply)
    s = sender.summary
    if s.reply_ids:
        log.info("outbox: %d sent (%d dry run), %d failed, %d waiting, %d checking, %d unknown",
                 s.sent, s.dry_run, s.failed, s.waiting, s.checking, s.unknown)
    return s


def status_line(reply: Reply, now: datetime | None = None) -> str:
    """One plain sentence for the dashboard and CLI: where the reply stands and what happens next."""
    now = now or utcnow()
    if reply.state == SENT:
        where = reply.url or reply.platform_reply_id or "no link returned"
        return f"Recorded as a dry run: nothing was published ({where})." if reply.dry_run else f"Sent: {where}"
    if reply.state == QUEUED and reply.next_attempt_at and reply.next_attempt_at > now:
        wait = int((reply.next_attempt_at - now).total_seconds())
        return f"Queued; next attempt in {wait // 60} min {wait % 60} s. {reply.error or ''}".strip()
    if reply.state == QUEUED:
        return "Queued; the sender posts it within a minute." + (" (dry run)" if reply.dry_run else "")
    if reply.state == SENDING:
        return f"Sending (attempt {reply.attempts}). {reply.error or ''}".strip()
    return f"{reply.state.capitalize()}: {reply.error or ''}".strip()
