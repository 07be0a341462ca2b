"""Themes: what a brand's complaints (or questions, or praise) are about over a period, grouped by meaning.

The one themes implementation: Trends, the weekly export, the inbox's theme filter and the storm
summaries of spike alerts all call `find_themes`.

How (docs/reports.md has the long form):
1. The period's mentions of that intent (the newest `sample`, 10,000 by default) and their stored
   sentence embeddings (services/embeddings.py) are read in one query.
2. Clustered with scikit-learn's MiniBatchKMeans on the unit-length vectors. k is chosen by a fixed
   rule: every k from 2 to 10 (at most n/4) is fitted on a seeded sample of ≤ 2,000 and the k with the
   highest silhouette score wins (ties: the smaller k); the final model is fitted on all of them.
3. Each theme is labelled with its characteristic words by c-TF-IDF (words and two-word phrases that
   are frequent in the theme and rare in the others; brand names and stop-words left out), and comes
   with its size, share, sentiment mix, three representative posts (nearest its centre) and its trend:
   the previous period's mentions of the same intent, each given to the nearest theme centre when it is
   at least as close as the theme's own typical member.
Without embeddings (a classifier that has none, or mentions classified before they were stored) the
themes are frequent words and phrases instead, and the result says why (`reason`, also logged).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, MentionEmbedding
from careline.services.clustering import cluster_themes
from careline.services.embeddings import decode_unit
from careline.services.theme_terms import STOP_WORDS, WORD, Theme
from careline.services.word_themes import word_themes

log = logging.getLogger(__name__)
INTENTS = ("complaint", "question", "praise")
MIN_FOR_CLUSTERING = 8  # fewer posts than this are read, not clustered
@dataclass
class Themes:
    intent: str                      # or "all"
    total: int                       # mentions of this intent in the period (the sample)
    method: str                      # "meaning" (clustered embeddings) | "words" | "none"
    themes: list[Theme]
    reason: str | None = None        # why the words method was used
    previous_total: int | None = None  # mentions of this intent in the previous period


def _effective(column: str) -> sa.ColumnElement:
    return sa.func.coalesce(getattr(Mention, f"corrected_{column}"), getattr(Mention, column))


@dataclass
class _Rows:
    ids: list[int]
    texts: list[str]
    sentiments: list[str]
    blobs: list[bytes | None]


def read_rows(session: Session, since: datetime, until: datetime, intent: str | None,
          brand_ids: Sequence[int] | None, platforms: Sequence[str] | None, sample: int) -> _Rows:
    emb = MentionEmbedding.__table__  # type: ignore[attr-defined]
    stmt = (sa.select(col(Mention.id), col(Mention.text), _effective("sentiment"), emb.c.vector)
            .select_from(sa.outerjoin(Mention, emb, emb.c.mention_id == Mention.id))
            .where(col(Mention.created_at) >= since, col(Mention.created_at) < until))
    if intent is not None:
        stmt = stmt.where(_effective("intent") == intent)
    if brand_ids:
        stmt = stmt.where(col(Mention.brand_id).in_(list(brand_ids)))
    if platforms:
        stmt = stmt.where(col(Mention.platform).in_(list(platforms)))
    # the id settles ties in time, so both databases sample (and list examples from) the same posts
    stmt = stmt.order_by(col(Mention.created_at).desc(), col(Mention.id).desc()).limit(sample)
    out = _Rows([], [], [], [])
    for mid, text, sentiment, blob in session.execute(stmt):
        out.ids.append(int(mid))
        out.texts.append(text or "")
        out.sentiments.append(sentiment or "unclassified")
        out.blobs.append(None if blob is None else bytes(blob))
    return out


def excluded_words(session: Session) -> set[str]:
    """Stop-words plus every brand's name, keywords and handles: they are in every post, never a theme."""
    skip = set(STOP_WORDS)
    for b in session.exec(select(Brand)):
        for term in [b.name, *(b.keywords or []), *(b.handles or [])]:
            skip.update(w.lower() for w in WORD.findall(term))
            skip.add(re.sub(r"\W", "", term.lower()))
    return skip


def find_themes(session: Session, since: datetime, until: datetime, *, intent: str | None = "complaint",
                brand_ids: Sequence[int] | None = None, platforms: Sequence[str] | None = None,
                previous: tuple[datetime, datetime] | None = None, sample: int = 10_000,
                limit: int = 8, against_previous: bool = False) -> Themes:
    """Themes of one intent (None: every mention) in [since, until), largest first; `previous` (default:
    the same length just before) gives each theme its trend. `against_previous` groups what stands out
    from the previous period (a storm against its baseline) instead of what tells the period's own
    posts apart."""
    if intent is not None and intent not in INTENTS:
        raise ValueError(f"themes are for {', '.join(INTENTS)}, not {intent!r}")
    noun = f"{intent}s" if intent else "mentions"
    rows = read_rows(session, since, until, intent, brand_ids, platforms, sample)
    if not rows.ids:
        return Themes(intent or "all", 0, "none", [])
    skip = excluded_words(session)
    previous = previous or (since - (until - since), since)
    have = [i for i, b in enumerate(rows.blobs) if b is not None]
    reason = None
    if len(have) < 0.8 * len(rows.ids):
        reason = (f"only {len(have)} of {len(rows.ids)} {noun} have a sentence embedding (the classifier "
                  "gives none, or they were classified before embeddings were stored)")
    elif len(rows.ids) < MIN_FOR_CLUSTERING:
        reason = f"only {len(rows.ids)} {noun}: too few to group by meaning"
    if reason is not None:
        log.info("themes by words, not meaning: %s", reason)
        prev = read_rows(session, *previous, intent, brand_ids, platforms, sample)
        return Themes(intent or "all", len(rows.ids), "words",
                      word_themes(rows.ids, rows.texts, rows.sentiments, prev.texts, skip, limit), reason,
                      previous_total=len(prev.ids))
    prev = read_rows(session, *previous, intent, brand_ids, platforms, sample)
    prev_vectors = decode_unit([b for b in prev.blobs if b is not None])
    keep = have  # the few without an embedding (≤ 20%) are left out of the grouping
    themes = cluster_themes([rows.ids[i] for i in keep], [rows.texts[i] for i in keep],
                            [rows.sentiments[i] for i in keep], decode_unit([rows.blobs[i] for i in keep]),  # type: ignore[misc]
                            prev_vectors if prev.ids else None, skip, limit, total=len(rows.ids),
                            against_previous=against_previous)
    return Themes(intent or "all", len(rows.ids), "meaning", themes, previous_total=len(prev.ids))


def sentiment_mix(values: Sequence[str]) -> dict[str, int]:
    return dict(Counter(values))
