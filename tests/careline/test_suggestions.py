"""Suggested replies: ranked by the similarity of past mentions, only really sent replies of the same
brand, templates credited with the replies made from them, nothing ever queued — SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from sqlmodel import Session, select

from careline.models import Brand, Mention, Reply
from careline.services import app_settings, suggestions
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
RNG = np.random.default_rng(3)
TOPICS = {t: RNG.normal(size=384) for t in ("bag", "refund", "wifi")}


def _vec(topic: str, noise: float = 0.3) -> np.ndarray:
    v = TOPICS[topic] + RNG.normal(scale=noise, size=384)
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture(autouse=True)
def _fresh_index():  # type: ignore[no-untyped-def]
    suggestions.forget()
    yield
    suggestions.forget()


def _mention(s: Session, brand: Brand, text: str, topic: str, handle: str = "pat") -> Mention:
    res = ingest(s, [make_raw(text=text, author_handle=handle, created_at=T0)], brand_id=brand.id)
    m = s.get(Mention, res.new_ids[0])
    apply_labels(s, [m], [Labels("negative", "complaint", embedding=_vec(topic))], "seeded", 0.5)  # type: ignore[list-item]
    s.commit()
    return m  # type: ignore[return-value]


def _answer(s: Session, m: Mention, text: str, state: str = "sent", dry_run: bool = False) -> Reply:
    r = Reply(mention_id=m.id, platform=m.platform, text=text, state=state, dry_run=dry_run,  # type: ignore[arg-type]
              idempotency_key=f"k{m.id}-{state}-{dry_run}", created_by="agent")
    s.add(r)
    s.commit()
    return r


def test_ranks_past_answers_by_similar_mentions(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        acme, rival = Brand(name="Acme Air"), Brand(name="Skyhop", competitor=True)
        s.add_all([acme, rival])
        s.commit()
        app_settings.put(s, "reply_templates", {"Apology": "Hi {author}, sorry about this. DM us. – {brand}"})
        bag = _mention(s, acme, "Acme Air lost my bag in Oslo", "bag", "old_bag")
        refund = _mention(s, acme, "Acme Air refund still missing", "refund")
        wifi = _mention(s, acme, "Acme Air wifi broken", "wifi")
        _answer(s, bag, "@old_bag so sorry about your bag, DM us the file reference")
        _answer(s, refund, "We will chase your refund today")
        _answer(s, wifi, "Hi @pat, sorry about this. DM us. – Acme Air")  # made from the template
        _answer(s, _mention(s, acme, "Acme Air lost my bag again", "bag"), "DRY RUN answer", dry_run=True)
        _answer(s, _mention(s, acme, "Acme Air my bag is gone", "bag"), "cancelled answer", state="cancelled")
        _answer(s, _mention(s, rival, "Skyhop lost my bag", "bag"), "the rival's answer")
        open_one = _mention(s, acme, "Acme Air lost my luggage, bag missing", "bag", "newbie")
        got = suggestions.suggest(s, open_one, {"author": "@newbie", "brand": "Acme Air"})
        assert [g.kind for g in got][:1] == ["past reply"]
        top = got[0]
        assert top.past_mention_id == bag.id and top.past_mention_text == "Acme Air lost my bag in Oslo"
        assert top.text == "@newbie so sorry about your bag, DM us the file reference"  # addressed to this author
        texts = [g.text for g in got]
        assert not {"DRY RUN answer", "cancelled answer", "the rival's answer"} & set(texts)
        # the wifi reply came from the template: it is offered as the template, filled in for this mention
        assert any(g.template == "Apology" and g.text == "Hi @newbie, sorry about this. DM us. – Acme Air" for g in got)
        assert len(got) == 3 and got == sorted(got, key=lambda g: -g.score)
        assert s.exec(select(Reply).where(Reply.mention_id == open_one.id)).all() == []  # never queued


def test_index_grows_with_new_answers(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        acme = Brand(name="Acme Air")
        s.add(acme)
        s.commit()
        refund = _mention(s, acme, "Acme Air refund still missing", "refund")
        _answer(s, refund, "We will chase your refund today")
        open_one = _mention(s, acme, "Acme Air wifi never worked", "wifi", "newbie")
        first = suggestions.suggest(s, open_one, {"author": "@newbie"})
        assert all("wifi" not in g.text for g in first)
        wifi = _mention(s, acme, "Acme Air wifi down all flight", "wifi")
        _answer(s, wifi, "Sorry the wifi failed, we refunded the wifi charge")
        again = suggestions.suggest(s, open_one, {"author": "@newbie"})
        assert again[0].text == "Sorry the wifi failed, we refunded the wifi charge"
        assert len(suggestions.index_for(s, acme.id).reply_ids) == 2  # topped up, not rebuilt twice


def test_without_an_embedding_templates_only(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        acme = Brand(name="Acme Air")
        s.add(acme)
        s.commit()
        res = ingest(s, [make_raw(text="Acme Air thanks, great crew")], brand_id=acme.id)
        m = s.get(Mention, res.new_ids[0])
        got = suggestions.suggest(s, m, {"author": "@x", "brand": "Acme Air"})  # type: ignore[arg-type]
        assert got and all(g.kind == "template" for g in got)
        assert got[0].template == "Thanks"  # shares the most words with the post


def test_a_reply_sent_late_under_a_lower_id_joins_the_index(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        acme = Brand(name="Acme Air")
        s.add(acme)
        s.commit()
        slow = _answer(s, _mention(s, acme, "Acme Air wifi down", "wifi"), "wifi answer", state="queued")
        _answer(s, _mention(s, acme, "Acme Air refund missing", "refund"), "refund answer")
        assert len(suggestions.index_for(s, acme.id).reply_ids) == 1  # type: ignore[arg-type]
        slow.state = "sent"
        s.add(slow)
        s.commit()
        idx = suggestions.index_for(s, acme.id)  # type: ignore[arg-type]
        assert sorted(idx.texts) == ["refund answer", "wifi answer"]
        assert len(suggestions.index_for(s, acme.id).reply_ids) == 2  # type: ignore[arg-type]


def test_warm_builds_each_own_brands_index_and_growing_keeps_the_scores(session: Session) -> None:
    acme, rival = Brand(name="Acme Air"), Brand(name="Skyhop", competitor=True)
    session.add_all([acme, rival])
    session.commit()
    for i in range(3):
        _answer(session, _mention(session, acme, f"Acme Air lost my bag {i}", "bag", f"a{i}"), f"sorry {i}")
    _answer(session, _mention(session, rival, "Skyhop lost my bag", "bag"), "the rival's answer")
    assert suggestions.warm(session) == 3  # competitors have no index: we never answer them
    idx = suggestions.index_for(session, acme.id)  # type: ignore[arg-type]
    assert idx.matrix.shape == (384, 3) and idx.columns.shape[1] >= 1024  # room to grow in place
    # appending keeps each row's centred cosine what a fresh index computes
    more = np.stack([_vec("refund") for _ in range(5)])
    idx.append(more)
    q = _vec("refund")
    fresh = suggestions._Index()
    fresh.append(np.concatenate([idx.matrix[:, :3].T, more]))
    assert np.allclose(idx.scores(q)[3:], fresh.scores(q)[3:], atol=0.05)
    assert idx.scores(q)[3:].min() > idx.scores(q)[:3].max()  # the refund rows rank above the bag rows
