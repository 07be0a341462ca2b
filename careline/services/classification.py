"""Storing model labels and people's corrections; finding what still needs classifying."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import Author, Mention, utcnow
from careline.services import audit, customer_counts, embeddings, rows, sla
from careline.services.priority import score_mention
from classify.base import INTENTS, SENTIMENTS, Labels, review
from classify.base import language_unsupported as language_unsupported  # re-exported: the dashboard asks here
from classify.needs_reply import judge

log = logging.getLogger(__name__)


def pending_ids(session: Session, limit: int = 1000) -> list[int]:
    stmt = (
        select(Mention.id)
        .where(col(Mention.classified_at).is_(None))
        .order_by(col(Mention.id))
        .limit(limit)
    )
    return [i for i in session.exec(stmt) if i is not None]


def count_pending(session: Session) -> int:
    return session.exec(select(sa.func.count()).select_from(Mention).where(col(Mention.classified_at).is_(None))).one()


def apply_labels(
    session: Session, mentions: Sequence[Mention], labels: Sequence[Labels], version: str, low_confidence: float
) -> None:
    """Write labels onto rows (one UPDATE per set of columns, rows.store_changes: the ORM's bulk UPDATE split
    a batch of 1,000 into ~465-660 statements on PostgreSQL, by runs of rows with the same keys), replace
    their embeddings and update author rollups; caller commits. The one place labels are stored, so
    re-classification replaces both."""
    now = utcnow()
    updates: list[dict[str, Any]] = []
    deltas: dict[tuple[str, str, int], list[int]] = {}
    policies = sla.book(session) if mentions else None
    firsts: list[bool] = []
    for m, lab in zip(mentions, labels, strict=True):
        flag, reason = review(lab, low_confidence)
        first_time = m.classified_at is None
        firsts.append(first_time)
        old_intent = m.corrected_intent or m.intent
        values: dict[str, Any] = {
            "id": m.id,
            "sentiment": lab.sentiment,
            "intent": lab.intent,
            "sentiment_scores": {k: round(float(v), 4) for k, v in lab.sentiment_scores.items()},
            "intent_scores": {k: round(float(v), 4) for k, v in lab.intent_scores.items()},
            "sentiment_score": round(lab.sentiment_score, 4),
            "intent_score": round(lab.intent_score, 4),
            "language": m.language or lab.language,
            "model_version": version,
            "classified_at": now,
            "needs_review": flag,
            "review_reason": reason,
            **_reply_needed(m.text, m.corrected_intent or lab.intent),
            "lease_owner": None,
            "lease_expires_at": None,
        }
        for key, value in values.items():  # keep the in-memory row true, without a second UPDATE
            if key != "id":
                set_committed_value(m, key, value)
        if m.first_response_at is None:  # the intent may carry its own target (services/sla.py)
            values["respond_by"] = sla.deadline_for(policies, m)  # type: ignore[arg-type]
            set_committed_value(m, "respond_by", values["respond_by"])
        values["priority"] = score_mention(m, now)
        set_committed_value(m, "priority", values["priority"])
        updates.append(values)
        if m.author_handle:
            _count_change(deltas, (m.platform, m.author_handle, m.brand_id or 0), None if first_time else old_intent,
                          m.corrected_intent or m.intent)
    # on PostgreSQL routing's changes ride on this UPDATE (one row version, not two; rows.one_write_per_row);
    # on SQLite routing runs after it and writes its own changed columns, as before
    fresh = [m for m, first in zip(mentions, firsts, strict=True) if first]
    merge = rows.one_write_per_row(session)
    routed = _route(session, fresh, "classified", write=False) if merge else None
    if updates:
        for values in updates if routed is not None and routed.changes else ():
            values.update(routed.changes.get(values["id"], {}))  # type: ignore[union-attr]
        rows.store_changes(session, {values.pop("id"): values for values in updates})
        embeddings.store(session, ((m.id, lab.embedding) for m, lab in zip(mentions, labels, strict=True)
                                   if m.id is not None), version)
    if routed is not None:
        customer_counts.status_changed(session, routed.reopened)
    _apply_author_deltas(session, deltas)
    if not merge:
        _route(session, fresh, "classified")


def _route(session: Session, mentions: Sequence[Mention], trigger: str, write: bool = True) -> Any:
    """Routing rules (services/routing.py) once labels are set on the rows; a failure there never costs
    the labels. On first labels on PostgreSQL the changes come back unwritten (RouteResult.changes) for
    the labels' UPDATE to carry (services/rows.one_write_per_row)."""
    from careline.services import routing_run

    if not mentions:
        return None
    try:
        if trigger == "corrected":
            return routing_run.reroute_after_correction(session, mentions[0])
        return routing_run.route(session, mentions, trigger=trigger, write=write)
    except Exception:  # noqa: BLE001 - per-rule failures are handled inside; this is the last guard
        log.exception("routing failed for %d mention(s); their labels are stored", len(mentions))
        return None


def _reply_needed(text: str, intent: str | None) -> dict[str, Any]:
    """The "needs a reply" columns for a mention's text and effective intent (the one place they are set)."""
    verdict = judge(text, intent)
    return {"reply_needed": verdict.needs_reply, "reply_reason": verdict.reason}


def _count_change(deltas: dict[tuple[str, str, int], list[int]], key: tuple[str, str, int],
                  old: str | None, new: str | None) -> None:
    """Add an author's change of intent (old → new) to their [praise, complaint] deltas (per brand)."""
    if old == new:
        return
    d = deltas.setdefault(key, [0, 0])
    for intent, sign in ((old, -1), (new, 1)):
        if intent == "praise":
            d[0] += sign
        elif intent == "complaint":
            d[1] += sign


def _apply_author_deltas(session: Session, deltas: dict[tuple[str, str, int], list[int]]) -> None:
    per_author: dict[tuple[str, str], list[int]] = {}
    for (p, h, _brand), (dp, dc) in deltas.items():
        d = per_author.setdefault((p, h), [0, 0])
        d[0], d[1] = d[0] + dp, d[1] + dc
    bumps = [{"p": p, "h": h, "dp": dp, "dc": dc} for (p, h), (dp, dc) in per_author.items() if dp or dc]
    if bumps:
        table = Author.__table__  # type: ignore[attr-defined]
        session.connection().execute(  # Core executemany: one statement for every author in the batch
            sa.update(table)
            .where(table.c.platform == sa.bindparam("p"), table.c.handle == sa.bindparam("h"))
            .values(praise_count=table.c.praise_count + sa.bindparam("dp"),
                    complaint_count=table.c.complaint_count + sa.bindparam("dc")),
            bumps,
        )
    customer_counts.apply_intent_deltas(session, deltas)  # per brand, and the customers' counts


def correct(
    session: Session, mention_id: int, actor: str, *, sentiment: str | None = None, intent: str | None = None
) -> Mention:
    """A person's correction: stored beside the model's labels, used for retraining, audited."""
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise InvalidInput(f"Unknown sentiment {sentiment!r}; use one of {', '.join(SENTIMENTS)}.")
    if intent is not None and intent not in INTENTS:
        raise InvalidInput(f"Unknown intent {intent!r}; use one of {', '.join(INTENTS)}.")
    m = session.get(Mention, mention_id)
    if m is None:
        raise NotFound(f"Mention {mention_id} does not exist.")
    old_intent = m.corrected_intent or m.intent
    before = {"sentiment": m.corrected_sentiment or m.sentiment, "intent": old_intent}
    # A label sent back unchanged (a form posts both boxes) is the model's, not a person's: recording it
    # would train on the model's own guess as if a person had checked it.
    if sentiment is not None and (m.corrected_sentiment is not None or sentiment != m.sentiment):
        m.corrected_sentiment = sentiment
    if intent is not None and (m.corrected_intent is not None or intent != m.intent):
        m.corrected_intent = intent
    if m.corrected_sentiment is not None or m.corrected_intent is not None:
        m.corrected_by, m.corrected_at = actor, utcnow()
    m.updated_at = utcnow()
    m.needs_review, m.review_reason = False, None
    if m.first_response_at is None:
        m.respond_by = sla.deadline_for(sla.book(session), m)
    for key, value in _reply_needed(m.text, m.corrected_intent or m.intent).items():
        setattr(m, key, value)
    m.priority = score_mention(m)
    if m.author_handle and m.classified_at is not None:
        deltas: dict[tuple[str, str, int], list[int]] = {}
        _count_change(deltas, (m.platform, m.author_handle, m.brand_id or 0), old_intent,
                      m.corrected_intent or m.intent)
        _apply_author_deltas(session, deltas)
    session.add(m)
    _route(session, [m], "corrected")
    audit.record(session, actor, "correct", mention_id=m.id, before=before,
                 after={"sentiment": m.corrected_sentiment or m.sentiment, "intent": m.corrected_intent or m.intent})
    session.commit()
    return m


def corrections(session: Session) -> list[tuple[str, str | None, str | None]]:
    """(text, sentiment, intent) for every mention a person corrected, for `careline train --with-corrections`."""
    stmt = select(Mention.text, Mention.corrected_sentiment, Mention.corrected_intent).where(
        sa.or_(col(Mention.corrected_sentiment).is_not(None), col(Mention.corrected_intent).is_not(None))
    )
    return [(t, s, i) for t, s, i in session.exec(stmt)]


def review_queue(session: Session, limit: int = 50) -> list[Mention]:
    stmt = (
        select(Mention)
        .where(col(Mention.needs_review).is_(True), col(Mention.corrected_at).is_(None))
        .order_by(col(Mention.priority).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))
