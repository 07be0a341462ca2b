"""The dashboard shows themes on Trends, storm summaries under alerts, and suggested past answers in the
composer; "Use this" fills the reply box and sends nothing."""
from __future__ import annotations

import numpy as np
from sqlmodel import Session, select

from careline.models import Mention, Reply
from careline.services import suggestions
from careline.services.classification import apply_labels
from classify.base import Labels
from tests.dashboard.conftest import mention_id, open_mention


def _texts(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.value for t in at.text] + [m.value for m in at.markdown] + [c.value for c in at.caption]


def _embed_and_answer(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    bag = rng.normal(size=384)
    with Session(engine, expire_on_commit=False) as s:
        rows = list(s.exec(select(Mention).order_by(Mention.id)))
        labels = []
        for m in rows:
            v = bag + rng.normal(scale=0.3, size=384) if "bag" in m.text or "luggage" in m.text else rng.normal(size=384)
            labels.append(Labels(m.sentiment or "neutral", m.intent or "other", {m.sentiment or "neutral": .9},
                                 {m.intent or "other": .9}, "en", embedding=(v / np.linalg.norm(v)).astype(np.float32)))
        apply_labels(s, rows, labels, "test-model-1", 0.55)
        past = next(m for m in rows if m.text.startswith("Acme Air lost my suitcase"))
        s.add(Reply(mention_id=past.id, platform=past.platform, text=f"@{past.author_handle} so sorry, DM us your bag tag",  # type: ignore[arg-type]
                    state="sent", idempotency_key="past-1", created_by="agent"))
        s.commit()
        return past.id, mention_id(engine, "Acme Air lost my bag in Denver")  # type: ignore[return-value]


def test_composer_suggests_a_past_answer_and_use_fills_the_box(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    suggestions.forget()
    _, mid = _embed_and_answer(dash_db)
    at = page("inbox", role="agent")
    open_mention(at, mid)
    texts = _texts(at)
    assert any("Sent before" in t for t in texts), texts
    assert any(t.startswith("Answered: “Acme Air lost my suitcase again") for t in texts)
    assert "@user0 so sorry, DM us your bag tag" in texts  # addressed to this author (user0)
    at.button(key=f"sugg_{mid}_0").click().run()
    assert not at.exception
    assert at.text_area(key=f"reply_text_{mid}").value == "@user0 so sorry, DM us your bag tag"
    with Session(dash_db) as s:
        assert s.exec(select(Reply).where(Reply.mention_id == mid)).all() == []  # filled in, not sent
    suggestions.forget()


def test_trends_shows_themes(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    at = page("trends")
    assert not at.exception
    assert any(h.value == "Themes" for h in at.subheader)
    frames = [df.value for df in at.dataframe if "Theme" in getattr(df.value, "columns", [])]
    assert frames and any("lost luggage" in str(v) or "lost" in str(v) for v in frames[0]["Theme"])


def test_inbox_filters_by_theme(page, dash_db) -> None:  # type: ignore[no-untyped-def]
    at = page("inbox", role="agent")
    at.toggle(key="f_by_theme").set_value(True).run()
    assert not at.exception
    box = at.selectbox(key="f_theme")
    luggage = next(o for o in box.options if o.startswith("complaint · ") and "lost" in o)
    box.set_value(luggage).run()
    assert not at.exception
    shown = {t for t in at.dataframe[0].value["Text"]}
    assert shown and all("lost" in t.lower() for t in shown)
    assert not any("pets" in t for t in shown)
