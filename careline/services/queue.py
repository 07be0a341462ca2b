"""Classification as a work queue in the database: claim a batch with a lease, label it, release it.

On PostgreSQL several workers claim with `FOR UPDATE SKIP LOCKED`, so no two take the same rows; a
killed worker's lease expires and its rows are claimed again. On SQLite the single writer lock gives the
same guarantee for the one process that runs there. Labels are written only while the lease is still
ours, so a worker that was presumed dead can never label a row twice.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.coordination import worker_id
from careline.db import is_postgres
from careline.models import Mention, utcnow
from careline.services.classification import apply_labels
from classify.base import Classifier

log = logging.getLogger(__name__)
DEFAULT_LEASE_SECONDS = 120


def claim(session: Session, owner: str, size: int, lease_seconds: int = DEFAULT_LEASE_SECONDS) -> list[int]:
    """Lease up to `size` unclassified mentions to `owner`; commits the claim and returns their ids."""
    now = utcnow()
    candidates = (
        select(Mention.id)
        .where(col(Mention.classified_at).is_(None))
        .where(sa.or_(col(Mention.lease_expires_at).is_(None), col(Mention.lease_expires_at) < now))
        .order_by(col(Mention.id))
        .limit(size)
    )
    if is_postgres(session):
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        sa.update(Mention)
        .where(col(Mention.id).in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(col(Mention.id))
        .execution_options(synchronize_session=False)
    )
    ids = sorted(session.execute(stmt).scalars().all())
    session.commit()
    return ids


def complete(
    session: Session, owner: str, ids: list[int], classifier: Classifier, low_confidence: float = 0.55
) -> list[int]:
    """Classify the claimed rows and store labels for those still leased to us; returns the ids stored."""
    rows = list(session.exec(select(Mention).where(col(Mention.id).in_(ids)).order_by(col(Mention.id))))
    labels = classifier.classify([m.text for m in rows])
    by_id = {m.id: lab for m, lab in zip(rows, labels, strict=True)}
    # Re-read under a row lock: only rows still ours and still unclassified get labels.
    mine = (
        select(Mention)
        .where(col(Mention.id).in_(ids), col(Mention.lease_owner) == owner, col(Mention.classified_at).is_(None))
        .order_by(col(Mention.id))
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        mine = mine.with_for_update()
    owned = list(session.exec(mine))
    apply_labels(session, owned, [by_id[m.id] for m in owned], classifier.version, low_confidence)
    stored = [m.id for m in owned if m.id is not None]
    session.commit()
    log.debug("%s stored labels for ids %s", owner, ",".join(map(str, stored)))
    lost = len(ids) - len(owned)
    if lost:
        log.warning("%s: %d leased row(s) were taken over before labels were stored", owner, lost)
    return stored


def work_once(
    session: Session, owner: str, classifier: Classifier, batch_size: int = 64,
    lease_seconds: int = DEFAULT_LEASE_SECONDS, low_confidence: float = 0.55,
) -> list[int]:
    """One claim-classify-store cycle; an empty list means the queue is empty (for now)."""
    ids = claim(session, owner, batch_size, lease_seconds)
    if not ids:
        return []
    try:
        return complete(session, owner, ids, classifier, low_confidence)
    except Exception:
        session.rollback()
        release(session, owner, ids)
        raise


def drain(
    session: Session,
    classifier: Classifier,
    *,
    batch_size: int = 64,
    limit: int | None = None,
    low_confidence: float = 0.55,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    progress: Callable[[int], None] | None = None,
    owner: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Classify until nothing is claimable (or `limit` rows, or `stop()`), batch by batch; returns how many.

    The one drain loop: `careline classify`, the collect job and the workers all call it. The same path
    serves one process on SQLite and many workers on PostgreSQL.
    """
    owner = owner or worker_id("classify")
    done = 0
    while (limit is None or done < limit) and not (stop and stop()):
        take = batch_size if limit is None else min(batch_size, limit - done)
        stored = work_once(session, owner, classifier, take, lease_seconds=lease_seconds,
                           low_confidence=low_confidence)
        if not stored:
            if claimable(session) == 0:
                break
            continue
        done += len(stored)
        if progress:
            progress(len(stored))
    return done


def release(session: Session, owner: str, ids: list[int]) -> None:
    """Give rows back early (e.g. the classifier failed) instead of waiting for the lease to expire."""
    session.execute(
        sa.update(Mention)
        .where(col(Mention.id).in_(ids), col(Mention.lease_owner) == owner, col(Mention.classified_at).is_(None))
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def claimable(session: Session) -> int:
    """Unclassified rows that nobody holds a live lease on (a cheap check to stop a drain loop)."""
    now = utcnow()
    stmt = (
        select(sa.func.count())
        .select_from(Mention)
        .where(col(Mention.classified_at).is_(None))
        .where(sa.or_(col(Mention.lease_expires_at).is_(None), col(Mention.lease_expires_at) < now))
    )
    return int(session.exec(stmt).one())
