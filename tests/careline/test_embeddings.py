"""Embeddings are stored with the labels (int8 + scale), replaced on re-classification, and absent
(not faked) for classifiers without them — on SQLite and PostgreSQL."""
from __future__ import annotations

import logging

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Brand, Mention, MentionEmbedding
from careline.services import embeddings
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return v / np.linalg.norm(v)


def _mentions(s: Session, n: int) -> list[Mention]:
    b = Brand(name="Acme Air")
    s.add(b)
    s.commit()
    res = ingest(s, [make_raw(external_id=f"e{i}") for i in range(n)], brand_id=b.id)
    return [s.get(Mention, i) for i in res.new_ids]  # type: ignore[misc]


def test_int8_keeps_cosines_close() -> None:
    a, b = _unit(1), _unit(2)
    c = 0.8 * a + 0.6 * b
    c /= np.linalg.norm(c)
    rows = embeddings.decode_unit([embeddings.encode(v)[1] for v in (a, b, c)])
    exact = np.array([a, b, c]) @ np.array([a, b, c]).T
    assert np.abs(rows @ rows.T - exact).max() < 0.01
    assert len(embeddings.encode(a)[1]) == 384  # one byte a value


def test_stored_with_labels_and_replaced(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        ms = _mentions(s, 3)
        first = [_unit(i) for i in range(3)]
        apply_labels(s, ms, [Labels("negative", "complaint", {"negative": .9}, {"complaint": .9}, embedding=e)
                             for e in first], "m-1", 0.5)
        s.commit()
        ids, matrix = embeddings.load(s, [m.id for m in ms])
        assert sorted(ids) == sorted(m.id for m in ms)
        got = dict(zip(ids, matrix))
        for m, e in zip(ms, first):
            assert float(got[m.id] @ e) > 0.999
        # re-classification with another model: the new vectors replace the old ones, no duplicates
        second = [_unit(10 + i) for i in range(3)]
        apply_labels(s, ms, [Labels("neutral", "other", {"neutral": .9}, {"other": .9}, embedding=e)
                             for e in second], "m-2", 0.5)
        s.commit()
        assert s.execute(sa.select(sa.func.count()).select_from(MentionEmbedding)).scalar_one() == 3
        ids, matrix = embeddings.load(s, [ms[0].id])
        assert float(matrix[0] @ second[0]) > 0.999


def test_classifier_without_embeddings_leaves_none_and_says_so(any_engine, caplog) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        ms = _mentions(s, 2)
        apply_labels(s, ms, [Labels("negative", "complaint", embedding=_unit(0)) for _ in ms], "m-1", 0.5)
        s.commit()
        embeddings._warned.discard("lexicon-test")  # said once per process; this test wants that once
        with caplog.at_level(logging.WARNING, logger="careline.services.embeddings"):
            apply_labels(s, ms, [Labels("negative", "complaint") for _ in ms], "lexicon-test", 0.5)
            apply_labels(s, ms, [Labels("negative", "complaint") for _ in ms], "lexicon-test", 0.5)
        s.commit()
        # the stale vectors of the previous model are gone, not kept beside the new labels
        assert embeddings.one(s, ms[0].id) is None
        assert sum("no sentence embeddings" in r.message for r in caplog.records) == 1


def test_reply_needed_is_stored_with_labels_and_follows_corrections(any_engine) -> None:
    from careline.services.classification import correct

    with Session(any_engine, expire_on_commit=False) as s:
        b = Brand(name="Acme Air")
        s.add(b)
        s.commit()
        res = ingest(s, [make_raw(external_id="n1", text="Acme Air announces new routes https://news.example.com/a"),
                         make_raw(external_id="n2", text="Acme Air crew were lovely today")], brand_id=b.id)
        news, praise = (s.get(Mention, i) for i in res.new_ids)
        apply_labels(s, [news, praise], [Labels("neutral", "other"), Labels("positive", "praise")], "m-1", 0.5)  # type: ignore[list-item]
        s.commit()
        s.refresh(news)
        s.refresh(praise)
        assert (news.reply_needed, news.reply_reason) == (False, "news share")
        assert (praise.reply_needed, praise.reply_reason) == (False, "no request")
        correct(s, praise.id, "agent", intent="complaint")  # type: ignore[arg-type]
        s.refresh(praise)
        assert (praise.reply_needed, praise.reply_reason) == (True, "complaint")


def test_reclassify_all_replaces_the_embeddings(any_engine) -> None:
    """`careline classify --all` (services/reclassify.py, issue #13) goes through apply_labels too."""
    from careline.services.reclassify import reclassify

    class Model:
        def __init__(self, version: str, seed: int) -> None:
            self.version, self.seed = version, seed

        def classify(self, texts):  # type: ignore[no-untyped-def]
            return [Labels("negative", "complaint", embedding=_unit(self.seed + i)) for i in range(len(texts))]

    with Session(any_engine, expire_on_commit=False) as s:
        ms = _mentions(s, 3)
        assert reclassify(s, Model("v1", 100)) == 3
        assert reclassify(s, Model("v2", 200)) == 3
        ids, matrix = embeddings.load(s, [m.id for m in ms])
        assert len(ids) == 3
        got = dict(zip(ids, matrix))
        assert float(got[ms[0].id] @ _unit(200)) > 0.999  # the second model's vector, not the first's
