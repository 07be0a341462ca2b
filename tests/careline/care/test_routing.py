"""Routing rules: validation in one sentence, round robin with caps and away agents, audit, re-run on
correction, and a rule failing at run time skipped while the mention is still classified."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.errors import InvalidInput
from careline.models import AuditEvent, Brand, Mention, RoutingRule
from careline.services import routing, teams, users
from careline.services.classification import apply_labels, correct
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw


def _people(session: Session, *names: str) -> None:
    for name in names:
        users.create_user(session, name, "password-1", role="agent")


def _classify(session: Session, brand: Brand, texts: list[str], intent: str = "complaint",
              **raw: object) -> list[Mention]:
    result = ingest(session, [make_raw(text=t, thread_id=f"t-{t}", **raw) for t in texts], brand_id=brand.id)
    rows = list(session.exec(select(Mention).where(Mention.id.in_(result.new_ids)).order_by(Mention.id)))  # type: ignore[union-attr]
    sentiment = "negative" if intent == "complaint" else "neutral"
    apply_labels(session, rows, [Labels(sentiment, intent, {sentiment: 0.9}, {intent: 0.9}, "en") for _ in rows],
                 "test", 0.55)
    session.commit()
    return rows


def test_round_robin_skips_away_agents_and_respects_the_cap(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        brand = Brand(name="Acme Air")
        session.add(brand)
        session.commit()
        _people(session, "ana", "ben", "cy")
        teams.save_team(session, "admin", "Care", ["ana", "ben", "cy"], open_cap=2)
        teams.set_available(session, "cy", False, "admin")
        routing.save_rule(session, "admin", "complaints to Care", {"intent": ["complaint"]}, [{"team": "Care"}])
        recent = datetime.now(timezone.utc) - timedelta(hours=1)
        rows = _classify(session, brand, [f"Acme Air lost my bag {i}" for i in range(5)], created_at=recent)
        old = _classify(session, brand, ["Acme Air lost my bag last month"],
                        created_at=recent - timedelta(days=30))[0]
        assert old.assignee is None and old.team_id is not None  # the backlog stays with the team
        assert [m.assignee for m in rows] == ["ana", "ben", "ana", "ben", None]  # cy away; cap 2 each
        assert all(m.team_id is not None for m in rows)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "route")).all()
        assert {e.detail["rule"] for e in events} == {"complaints to Care"}
        assert any(e.detail.get("unassigned") for e in events if e.mention_id == rows[4].id)


def test_next_agent_wraps_after_the_last_one() -> None:
    assert teams.next_agent(["a", "b", "c"], "c", {}, {}, 5) == "a"
    assert teams.next_agent(["a", "b", "c"], "b", {"c": False}, {}, 5) == "a"
    assert teams.next_agent(["a", "c"], "b", {}, {}, 5) == "c"  # b left the team: carry on after b
    assert teams.next_agent(["a", "b"], None, {}, {"a": 5, "b": 5}, 5) is None


@pytest.mark.parametrize("conditions, actions, words", [
    ({"mood": ["angry"]}, [{"tag": "x"}], "Unknown condition 'mood'"),
    ({"brand": ["Nimbus"]}, [{"tag": "x"}], "No brand named Nimbus"),
    ({"intent": ["rant"]}, [{"tag": "x"}], "Unknown intent rant"),
    ({}, [{"team": "Night shift"}], "No team named 'Night shift'"),
    ({}, [{"assign": "zed"}], "No active user named 'zed'"),
    ({}, [], "at least one action"),
    ({}, [{"status": "deleted"}], "can set status"),
    ({"min_followers": "many"}, [{"tag": "x"}], "whole number"),
])
def test_a_bad_rule_is_refused_in_one_sentence_and_nothing_saved(session: Session, brand: Brand, conditions,
                                                                 actions, words) -> None:
    with pytest.raises(InvalidInput, match=words):
        routing.save_rule(session, "admin", "bad", conditions, actions)
    session.rollback()
    assert session.exec(select(RoutingRule)).all() == []
    with pytest.raises(InvalidInput, match="not valid JSON"):
        routing.parse_json("{intent: complaint}", "conditions")


def test_rules_run_in_order_with_tags_status_priority_and_again_on_correction(session: Session, brand: Brand) -> None:
    _people(session, "ana")
    routing.save_rule(session, "admin", "spam out", {"keywords": ["free crypto"]}, [{"status": "ignored"}], stop=True)
    routing.save_rule(session, "admin", "refunds", {"keywords": ["refund"], "intent": ["complaint"]},
                      [{"tag": "refund"}, {"priority": 15}, {"assign": "ana"}])
    spam, refund, question = _classify(session, brand, ["Acme Air FREE CRYPTO refund here", "Acme Air refund please!",
                                                        "Acme Air refund policy?"])
    assert spam.status == "ignored" and spam.tags == []  # stop: later rules skipped
    assert refund.tags == ["refund"] and refund.priority_boost == 15 and refund.assignee == "ana"
    assert question.tags == ["refund"]  # lexically complaint in this test's labels
    correct(session, refund.id, "ana", intent="question")  # no longer a complaint: routing's points go
    session.refresh(refund)
    assert refund.priority_boost == 0
    correct(session, refund.id, "ana", intent="complaint")
    session.refresh(refund)
    assert refund.priority_boost == 15  # not 30: a re-run replaces routing's points, never adds them twice


def test_a_rule_failing_at_run_time_is_skipped_and_the_mention_still_stored(session: Session, brand: Brand,
                                                                            monkeypatch, caplog) -> None:
    def explode(_value, _ctx):  # type: ignore[no-untyped-def]
        return lambda m: 1 / 0

    monkeypatch.setitem(routing.CONDITIONS, "explode", explode)
    routing.save_rule(session, "admin", "broken", {"explode": True}, [{"tag": "never"}])
    routing.save_rule(session, "admin", "fine", {}, [{"tag": "seen"}])
    (m,) = _classify(session, brand, ["Acme Air is late"])
    assert m.classified_at is not None and m.intent == "complaint" and m.tags == ["seen"]
    assert "routing rule 'broken' failed" in caplog.text
