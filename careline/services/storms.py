"""What a spike is about: the storm summary every spike alert carries (careline/reports/alerts.py).

For the alert's window, against the brand's previous `baseline_days`:
- **what is different**: the words and two-word phrases most over-represented in the window (in at least
  3 posts and a fifth of them, and at least 3 times as common as in the baseline), with the share of the
  window's posts that use any of them ("baggage / luggage / bags: 21 of 23 posts, 91%; usually 4%");
- **top themes**: the window's posts grouped by meaning (services/themes.py, against the baseline), the
  three largest with counts, share, their share of the baseline and a representative post.
The sentence goes into the alert's message (dashboard, `careline alerts`, the delivered notification),
the details into alert.detail["summary"]; posts are quoted only through the delivery's chat_safe.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from careline.services import theme_terms, themes

log = logging.getLogger(__name__)
MIN_LIFT = 3.0
TOP_TERMS = 3


def distinct_terms(window: list[str], baseline: list[str], skip: set[str]) -> list[dict[str, Any]]:
    """Terms far more common in the window than in the baseline, most distinctive first."""
    n, b = len(window), max(len(baseline), 1)
    now: Counter[str] = Counter()
    for text in window:
        now.update(theme_terms.terms(text, skip))
    before: Counter[str] = Counter()
    wanted = {t for t, c in now.items() if c >= max(3, 0.2 * n)}
    for text in baseline:
        before.update(theme_terms.terms(text, skip) & wanted)
    rows: list[dict[str, Any]] = []
    for term in wanted:
        share, usual = now[term] / n, before[term] / b
        if share >= MIN_LIFT * max(usual, 0.5 / b):  # half a post: a term the baseline never used still has a floor
            rows.append({"term": term, "count": now[term], "share": round(share, 3), "baseline_share": round(usual, 3)})
    rows.sort(key=lambda r: (-(r["share"] - r["baseline_share"]), -len(r["term"].split()), r["term"]))  # a phrase over its words
    # a phrase and its own words say the same thing: keep the first of them
    out: list[dict[str, Any]] = []
    for r in rows:
        words = set(r["term"].split())
        if any(words & set(o["term"].split()) for o in out):
            continue
        out.append(r)
        if len(out) == TOP_TERMS:
            break
    return out


def summarise(session: Session, brand_id: int, start: datetime, end: datetime,
              baseline_days: int = 14) -> dict[str, Any]:
    """The storm summary of one brand's window [start, end) (see the module docstring)."""
    baseline = (start - timedelta(days=baseline_days), start)
    found = themes.find_themes(session, start, end, intent=None, brand_ids=[brand_id], previous=baseline,
                               limit=3, against_previous=True)
    window = themes.read_rows(session, start, end, None, [brand_id], None, 10_000)
    before = themes.read_rows(session, *baseline, None, [brand_id], None, 20_000)
    skip = themes.excluded_words(session)
    terms = distinct_terms(window.texts, before.texts, skip)
    chosen = {t["term"] for t in terms}
    using = sum(1 for text in window.texts if theme_terms.terms(text, skip) & chosen)
    usual = sum(1 for text in before.texts if theme_terms.terms(text, skip) & chosen)
    n, b = len(window.texts), len(before.texts)
    top: list[dict[str, Any]] = [{"label": t.label, "count": t.size, "share": round(t.share, 3),
            "baseline_share": round((t.previous or 0) / b, 3) if b else None,
            "example": t.examples[0][1] if t.examples else "", "example_id": t.examples[0][0] if t.examples else None}
           for t in found.themes]
    sentence = ""
    if terms:
        sentence = (f"about {' / '.join(t['term'] for t in terms)}: {using} of {n} posts ({using / n:.0%}), "
                    f"usually {usual / b if b else 0:.0%}")
    elif top:
        sentence = f"mostly {top[0]['label']}: {top[0]['count']} of {n} posts ({top[0]['count'] / n:.0%})"
    quote = next((t["example"] for t in top if chosen & theme_terms.terms(t["example"], skip)), top[0]["example"] if top else "")
    return {"sentence": sentence, "terms": terms, "themes": top, "posts": n, "baseline_posts": b,
            "method": found.method, "reason": found.reason, "quote": quote}
