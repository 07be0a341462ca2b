"""A mention in a language the model has no validated score for: stored with needs_review and the reason,
scored as unlabelled (its confident-looking guess never lowers its priority), routable to a person by
the needs_review rule condition, and cleared when a person corrects it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import Brand, Mention
from careline.services import priority, routing, teams, users
from careline.services.classification import apply_labels, correct, language_unsupported
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

REASON = "language not supported by the model (es)"


def _guess(language: str | None, reason: str | None = None, confidence: float = 0.93) -> Labels:
    """A confident-looking neutral/other guess, as the shipped model gives a Spanish complaint."""
    return Labels("neutral", "other", {"neutral": confidence}, {"other": confidence}, language,
                  needs_review=reason is not None, review_reason=reason)


def test_unsupported_language_is_stored_scored_neutrally_and_routed(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        brand = Brand(name="Acme Air")
        session.add(brand)
        session.commit()
        users.create_user(session, "ana", "password-1", role="agent")
        teams.save_team(session, "admin", "Spanish desk", ["ana"])
        routing.save_rule(session, "admin", "unsupported to a person", {"unsupported_language": True},
                          [{"team": "Spanish desk"}])
        routing.save_rule(session, "admin", "doubtful ones tagged", {"needs_review": True}, [{"tag": "check"}])
        recent = datetime.now(timezone.utc) - timedelta(hours=1)
        texts = ["¿Acme Air perdió mi maleta? Nadie responde", "Acme Air boarding now", "Acme Air hmm"]
        result = ingest(session, [make_raw(text=t, thread_id=f"t-{i}", created_at=recent) for i, t in enumerate(texts)],
                        brand_id=brand.id)
        rows = list(session.exec(select(Mention).where(Mention.id.in_(result.new_ids)).order_by(Mention.id)))  # type: ignore[union-attr]
        apply_labels(session, rows, [_guess("es", REASON), _guess("en"), _guess("en", confidence=0.4)], "t", 0.55)
        session.commit()
        spanish, english, doubtful = (session.get(Mention, m.id) for m in rows)
        assert spanish is not None and english is not None and doubtful is not None
        assert (spanish.needs_review, spanish.review_reason, spanish.intent) == (True, REASON, "other")
        assert (english.needs_review, english.review_reason) == (False, None)
        assert (doubtful.needs_review, doubtful.review_reason) == (True, "low confidence")
        assert language_unsupported(spanish) and not language_unsupported(doubtful)
        # the guess (neutral/other) is not counted: the unknown parts apply, above the same guess in English
        assert spanish.priority > english.priority
        assert spanish.priority == priority.parts(None, None, spanish.author_followers, "new", False, respond_by=spanish.respond_by,
                                                   created_at=spanish.created_at).total
        assert "not judged (language not supported)" in priority.explain(spanish)
        assert spanish.team_id is not None and doubtful.team_id is None and english.team_id is None
        assert "check" in spanish.tags and "check" in doubtful.tags and "check" not in english.tags

        correct(session, spanish.id, "ana", intent="complaint", sentiment="negative")  # type: ignore[arg-type]
        fixed = session.get(Mention, spanish.id)
        assert fixed is not None and (fixed.needs_review, fixed.review_reason) == (False, None)
        assert fixed.priority == priority.score_mention(fixed) and not language_unsupported(fixed)
        assert priority.parts_of(fixed).intent == priority.INTENT_POINTS["complaint"]
