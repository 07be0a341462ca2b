"""Themes by words, for when the mentions have no sentence embeddings (services/themes.py says why).

The most frequent terms and two-word phrases, counted once per post (one angry post repeating "refund"
five times does not make refunds a theme); a phrase is kept over its words when it is nearly as
frequent, so "lost luggage" shows instead of "lost" and "luggage".
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from careline.services.theme_terms import EXAMPLES, Theme
from careline.services.theme_terms import terms as _terms


def word_themes(ids: Sequence[int], texts: Sequence[str], sentiments: Sequence[str],
                previous_texts: Sequence[str], skip: set[str], limit: int) -> list[Theme]:
    per_post = [_terms(t, skip) for t in texts]
    counts: Counter[str] = Counter()
    for terms in per_post:
        counts.update(terms)
    words = {t: n for t, n in counts.items() if " " not in t}
    chosen: list[str] = []
    covered: set[str] = set()
    for phrase, n in counts.most_common():
        if " " not in phrase or n < 3:
            continue
        a, b = phrase.split(" ", 1)
        if n >= 0.5 * min(words.get(a, 0), words.get(b, 0)) and a not in covered and b not in covered:
            chosen.append(phrase)
            covered.update((a, b))
    chosen += [w for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2 and w not in covered]
    chosen.sort(key=lambda t: (-counts[t], t))
    prev: Counter[str] = Counter()
    wanted = set(chosen[:limit])
    for text in previous_texts:
        prev.update(_terms(text, skip) & wanted)
    out = []
    for term in chosen[:limit]:
        members = [i for i, terms in enumerate(per_post) if term in terms]
        out.append(Theme(label=term, terms=[term], size=len(members), share=len(members) / len(texts),
                         previous=prev.get(term, 0), sentiment=dict(Counter(sentiments[i] for i in members)),
                         examples=[(int(ids[i]), texts[i]) for i in members[:EXAMPLES]],
                         mention_ids=[int(ids[i]) for i in members]))
    return out
