"""Re-classifying stored mentions with the current model (`careline classify --all`).

Every mention whose labels come from another model version (or none) is labelled again, in id order,
one committed batch at a time through `classification.apply_labels` — the one place labels are stored,
so embeddings are replaced with them and author rollups follow the new intents. People's corrections
are separate columns and stay. Resumable by construction: a batch that was committed carries the new
`model_version` and is skipped when the command runs again after an interruption; keyset paging on the
primary key keeps every batch an index range read at a million mentions.
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Mention, utcnow
from careline.services.classification import apply_labels
from classify.base import Classifier


def _stale(version: str) -> sa.ColumnElement[bool]:
    return sa.or_(col(Mention.model_version).is_(None), col(Mention.model_version) != version)


def count_stale(session: Session, version: str) -> int:
    """Mentions not labelled by `version` yet: what `reclassify` has left to do."""
    return int(session.exec(select(sa.func.count()).select_from(Mention).where(_stale(version))).one())


def reclassify(
    session: Session,
    classifier: Classifier,
    *,
    batch_size: int = 256,
    limit: int | None = None,
    low_confidence: float = 0.55,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Label again every mention not labelled by `classifier.version`; returns how many were relabelled.

    Mentions leased right now by a classify worker are left to it (it labels them with its own model).
    """
    version, last, done = classifier.version, 0, 0
    while limit is None or done < limit:
        take = batch_size if limit is None else min(batch_size, limit - done)
        leased = sa.and_(col(Mention.lease_expires_at).is_not(None), col(Mention.lease_expires_at) > utcnow())
        rows = list(session.exec(select(Mention).where(col(Mention.id) > last, _stale(version), sa.not_(leased))
                                 .order_by(col(Mention.id)).limit(take)))
        if not rows:
            break
        labels = classifier.classify([m.text for m in rows])
        apply_labels(session, rows, labels, version, low_confidence)
        session.commit()  # each batch on its own: an interrupted run keeps what it did
        last = rows[-1].id or last
        done += len(rows)
        if progress is not None:
            progress(len(rows))
    return done
