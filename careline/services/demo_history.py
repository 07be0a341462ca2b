"""The demo's answered history: replies the (invented) team sent to older complaints and questions, so the
composer has past answers to suggest for similar new mentions (services/suggestions.py), and Trends and the
weekly export show a team's real rhythm (most answered within target, some late, a few never) instead of
six weeks of nothing answered.

Demo data only, like the demo's mentions: `careline demo` calls it once the corpus is classified. The
rows say what they are (created_by "demo history", a demo URL); re-running adds nothing twice (one
idempotency key per mention). Real installations build this history by answering mentions.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, Reply, ReplyState, Status
from careline.services import audit

log = logging.getLogger(__name__)
ACTOR = "demo history"
PER_TOPIC = 4
PAST_DAYS = 3  # older complaints and questions were handled (or not) back then...
STORM_DAYS = 7  # ...except the last week's lost-baggage storm, which the team is still working through
# of every ten past mentions (by id, so the demo is the same each time): 1 never answered, 1 answered late
UNANSWERED, LATE = (0,), (1,)
GENERIC = {
    "complaint": "{author} we're sorry about this. Please DM us your booking reference and we'll put it right.",
    "question": "{author} thanks for asking! DM us your booking reference and we'll check it for you.",
}
# (what the complaint is about, the answer the team gave); {author} is the person's @handle
ANSWERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"lost my bag|suitcase|luggage|baggage|bags", re.I),
     "{author} so sorry your bag hasn't turned up. Please DM us your baggage file reference (it starts with "
     "the airport code) and our baggage team will trace it and call you today."),
    (re.compile(r"refund", re.I),
     "{author} apologies for the wait on your refund. DM us your booking reference and we'll chase the "
     "payments team and confirm the date it reaches you."),
    (re.compile(r"delayed|cancelled", re.I),
     "{author} we're sorry about the disruption. DM us your booking reference: you may be owed compensation "
     "and we can rebook you on the next available flight."),
    (re.compile(r"on hold|customer service|support chat|charged twice", re.I),
     "{author} sorry you couldn't get through. DM us here with your booking reference and we'll pick it up "
     "right away, no queue."),
    (re.compile(r"wifi", re.I),
     "{author} sorry the wifi didn't work. DM us your booking reference and we'll refund the wifi charge."),
]


def seed_answered(session: Session, before: datetime) -> int:
    """Sent replies to the latest PER_TOPIC complaints per topic posted before `before` (in the demo, the
    team has answered the end of the lost-baggage storm); returns how many are new."""
    own = [b.id for b in session.exec(select(Brand).where(col(Brand.competitor).is_(False)))]
    if not own:
        return 0
    done = set(session.exec(select(Reply.mention_id).where(Reply.created_by == ACTOR)))
    stmt = (select(Mention).where(col(Mention.brand_id).in_(own), Mention.created_at < before,
                                  col(Mention.classified_at).is_not(None),
                                  # the model files some complaints as "other" or questions; never praise
                                  sa.func.coalesce(Mention.corrected_intent, Mention.intent) != "praise")
            .order_by(col(Mention.created_at).desc()))
    used = {i: 0 for i in range(len(ANSWERS))}
    added = 0
    for m in session.exec(stmt):
        topic = next((i for i, (pattern, _) in enumerate(ANSWERS) if pattern.search(m.text)), None)
        if topic is None or used[topic] >= PER_TOPIC:
            continue
        used[topic] += 1
        if m.id is None or m.id in done or m.platform == "hackernews":
            continue
        sent = m.created_at + timedelta(minutes=35 + 10 * used[topic])
        _answer(session, m, ANSWERS[topic][1], sent, resolved=sent + timedelta(hours=3), updated=sent)
        added += 1
    session.flush()
    added += _past_weeks(session, own, before - timedelta(days=PAST_DAYS - 1), before - timedelta(days=STORM_DAYS - 1))
    if added:
        audit.record(session, "system", "demo_history", replies=added)
    session.commit()
    log.info("demo history: %d sent replies to older complaints and questions", added)
    return added


def _reply_time(m: Mention) -> datetime:
    """Inside the first-response target for most, past it for LATE ones (deterministic by id)."""
    target = (m.respond_by - m.created_at) if m.respond_by else timedelta(hours=2)
    n = int(m.id or 0)
    if n % 10 in LATE:
        return max(m.created_at, m.respond_by or m.created_at + target) + timedelta(minutes=20 + 7 * (n % 40))
    return m.created_at + target * (0.15 + 0.7 * ((n * 37) % 100) / 100)


def _past_weeks(session: Session, own: list[int | None], before: datetime, storm_since: datetime) -> int:
    """Answer and resolve the older own-brand complaints and questions the topic answers left, as a team
    would have; UNANSWERED ones stay open (the backlog a new team inherits), and so do baggage posts since
    `storm_since` (the storm the demo's inbox, search and escalation are about)."""
    intent = sa.func.coalesce(Mention.corrected_intent, Mention.intent)
    answered = select(Reply.mention_id).where(col(Reply.state) == ReplyState.sent.value)
    stmt = (select(Mention).where(col(Mention.brand_id).in_(own), Mention.created_at < before,
                                  col(Mention.classified_at).is_not(None), intent.in_(tuple(GENERIC)),
                                  col(Mention.status).in_((Status.new.value, Status.assigned.value)),
                                  col(Mention.id).not_in(answered), Mention.platform != "hackernews")
            .order_by(col(Mention.id)))
    added = 0
    for m in session.exec(stmt):
        if m.id is None or m.id % 10 in UNANSWERED or (m.created_at >= storm_since and ANSWERS[0][0].search(m.text)):
            continue
        sent = _reply_time(m)
        resolved = sent + timedelta(hours=2 + m.id % 30)
        _answer(session, m, GENERIC[m.corrected_intent or m.intent or "complaint"], sent, resolved, updated=resolved)
        added += 1
    return added


def _answer(session: Session, m: Mention, template: str, sent: datetime, resolved: datetime,
            updated: datetime) -> None:
    """The team's sent reply (`template` with the author's @handle) and the mention resolved after it."""
    from careline.services.priority import score_mention

    assert m.id is not None  # stored rows only (both callers skip the rest)
    handle = f"@{m.author_handle}" if m.author_handle else "Hi"
    session.add(Reply(mention_id=m.id, platform=m.platform, text=template.format(author=handle),
                      state=ReplyState.sent.value, idempotency_key=f"demo-history-{m.id}", created_by=ACTOR,
                      created_at=sent, updated_at=sent, sent_at=sent, url=f"{m.url or ''}#demo-reply"))
    m.status, m.first_response_at, m.resolved_at, m.updated_at = Status.resolved.value, sent, resolved, updated
    m.priority = score_mention(m)  # resolved: closed mentions score 0
    session.add(m)
