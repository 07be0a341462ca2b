"""Themes: clustering a seeded set with known groups recovers them, labels them with their words, counts
the previous period, and falls back to words (saying why) without embeddings — SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from sklearn.metrics import adjusted_rand_score
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.services import themes
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
GROUPS = {
    "baggage": ["Acme Air lost my bag in {c}, baggage belt empty", "my suitcase never arrived, lost baggage {c}",
                "still no luggage after {c}, baggage tracker useless"],
    "refund": ["Acme Air refund still missing for {c} flight", "waiting weeks for my refund, {c} cancelled",
               "where is my refund Acme Air? {c} trip"],
    "wifi": ["wifi on the {c} flight never worked, charged anyway", "paid for wifi to {c}, no connection",
             "Acme Air wifi broken all the way to {c}"],
}
CITIES = ["Oslo", "Lisbon", "Denver", "Dublin", "Austin", "Madrid", "Berlin"]


def seed(engine, sizes: dict[str, int], start: datetime = T0, with_embeddings: bool = True,
         tag: str = "a") -> dict[int, str]:
    """Complaints in known groups, each group's embeddings around its own random centre."""
    rng = np.random.default_rng(42)
    centres = {g: rng.normal(size=384) for g in GROUPS}
    truth: dict[int, str] = {}
    with Session(engine, expire_on_commit=False) as s:
        brand = s.exec(__import__("sqlmodel").select(Brand)).first()
        if brand is None:
            brand = Brand(name="Acme Air", keywords=["acme air"])
            s.add(brand)
            s.commit()
        n = 0
        for g, count in sizes.items():
            for i in range(count):
                text = GROUPS[g][i % 3].format(c=CITIES[i % len(CITIES)])
                res = ingest(s, [make_raw(external_id=f"{tag}-{g}-{i}", text=text,
                                          created_at=start + timedelta(hours=n % 150))], brand_id=brand.id)
                n += 1
                m = s.get(Mention, res.new_ids[0])
                v = centres[g] + rng.normal(scale=0.6, size=384)
                lab = Labels("negative", "complaint", {"negative": 0.9}, {"complaint": 0.9},
                             embedding=(v / np.linalg.norm(v)).astype(np.float32) if with_embeddings else None)
                apply_labels(s, [m], [lab], "seeded", 0.5)  # type: ignore[list-item]
                truth[m.id] = g  # type: ignore[index]
        s.commit()
    return truth


def test_known_groups_are_recovered_and_labelled(any_engine) -> None:
    truth = seed(any_engine, {"baggage": 30, "refund": 20, "wifi": 12})
    seed(any_engine, {"baggage": 5, "refund": 20}, start=T0 - timedelta(days=7), tag="prev")
    with Session(any_engine) as s:
        found = themes.find_themes(s, T0, T0 + timedelta(days=7))
    assert found.method == "meaning" and found.total == 62 and found.reason is None
    assert [t.size for t in found.themes] == [30, 20, 12]
    predicted = {mid: k for k, t in enumerate(found.themes) for mid in t.mention_ids}
    ids = sorted(truth)
    assert adjusted_rand_score([truth[i] for i in ids], [predicted[i] for i in ids]) == 1.0
    words = [set(" ".join(t.terms).split()) for t in found.themes]
    assert {"baggage"} <= words[0] or {"luggage", "bag"} & words[0]
    assert "refund" in words[1] and "wifi" in words[2]
    assert not any("acme" in w or "air" == w for ws in words for w in ws)  # brand words never name a theme
    baggage = found.themes[0]
    assert len(baggage.examples) == 3 and all(truth[i] == "baggage" for i, _ in baggage.examples)
    assert baggage.sentiment == {"negative": 30}
    # the previous week: 5 baggage and 20 refund complaints, matched to this week's themes
    assert baggage.previous is not None and 3 <= baggage.previous <= 5
    assert found.themes[1].previous is not None and 15 <= found.themes[1].previous <= 20
    assert found.themes[0].change is not None and found.themes[0].change > 4


def test_without_embeddings_falls_back_to_words_and_says_why(any_engine, caplog) -> None:
    seed(any_engine, {"baggage": 9, "refund": 6}, with_embeddings=False)
    with Session(any_engine) as s, caplog.at_level("INFO", logger="careline.services.themes"):
        found = themes.find_themes(s, T0, T0 + timedelta(days=7))
    assert found.method == "words" and "embedding" in (found.reason or "")
    assert any("themes by words" in r.message for r in caplog.records)
    assert found.themes[0].label in ("baggage", "refund")
    assert not any("acme" in t.label for t in found.themes)


def test_phrases_are_kept_over_their_words(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        b = Brand(name="Acme Air", keywords=["acme air"])
        s.add(b)
        s.commit()
        for i, text in enumerate(["Acme Air lost luggage in Denver", "Acme Air lost luggage again",
                                  "acme air lost luggage, refund please", "Acme Air pets allowed?"]):
            res = ingest(s, [make_raw(external_id=f"p{i}", text=text, created_at=T0 + timedelta(hours=i))],
                         brand_id=b.id)
            m = s.get(Mention, res.new_ids[0])
            apply_labels(s, [m], [Labels("negative", "complaint")], "lexicon", 0.5)  # type: ignore[list-item]
        s.commit()
        found = themes.find_themes(s, T0, T0 + timedelta(days=1))
    assert found.method == "words"
    assert (found.themes[0].label, found.themes[0].size) == ("lost luggage", 3)


def test_two_clusters_named_by_the_same_words_are_one_theme() -> None:
    """k-means may split one topic into two clusters; a reader must not see the same theme twice."""
    from careline.services.clustering import cluster_themes

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 384))
    bag = ["lost my bag in {c}, baggage belt empty", "my suitcase never arrived, lost baggage {c}"]
    refund = ["refund still missing for {c} flight", "waiting weeks for my refund, {c} cancelled"]
    texts, vectors = [], []
    for group, templates in ((0, bag), (1, bag), (2, refund)):  # groups 0 and 1: far apart, same words
        for i in range(20):
            texts.append(templates[i % 2].format(c=CITIES[i % len(CITIES)]))
            v = centres[group] + rng.normal(scale=0.3, size=384)
            vectors.append(v / np.linalg.norm(v))
    found = cluster_themes(list(range(60)), texts, ["negative"] * 60, np.asarray(vectors, np.float32), None,
                           set(themes.STOP_WORDS), limit=8, total=60)
    assert [t.size for t in found] == [40, 20]
    assert len({t.label for t in found}) == 2 and "refund" in found[1].terms
    assert sorted(found[0].mention_ids) == list(range(40))


def test_the_sample_keeps_the_newest_posts_when_times_tie(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        b = Brand(name="Acme Air", keywords=["acme air"])
        s.add(b)
        s.commit()
        res = ingest(s, [make_raw(external_id=f"tie{i}", text=f"Acme Air post {i}", created_at=T0) for i in range(6)],
                     brand_id=b.id)
        ms = [s.get(Mention, i) for i in res.new_ids]
        apply_labels(s, ms, [Labels("negative", "complaint") for _ in ms], "lexicon", 0.5)  # type: ignore[misc]
        s.commit()
        for m in ms[::2]:  # an updated row moves in PostgreSQL's heap: scan order is not id order
            m.status = "assigned"
            s.add(m)
            s.commit()
        rows = themes.read_rows(s, T0, T0 + timedelta(days=1), "complaint", None, None, sample=3)
    assert rows.ids == sorted(res.new_ids, reverse=True)[:3]
