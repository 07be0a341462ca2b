"""Complaint themes: the terms that complaints share most, stop-words and brand names removed.

Counted once per mention (document frequency), so one angry post repeating "refund" five times does not
make refunds a theme. Crude on purpose: it names what people complain about, it does not model topics.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]{3,}", re.UNICODE)
STOP_WORDS = frozenset("""
a about above after again against all almost also am an and any anyone are aren't around as at away back be
because been before being below between both but by can can't cannot could couldn't did didn't do does doesn't
doing don't done down during each even ever every few for from further get gets getting got had hadn't has
hasn't have haven't having he her here hers herself him himself his how i i'm i've if in into is isn't it it's
its itself just know last let let's like made make makes me more most much must my myself never new no nor not
now of off on once one only or other our ours ourselves out over own really right said same say says see she
should shouldn't since so some still such than that that's the their theirs them themselves then there
there's these they they're this those though through to today too under until up upon us very via want was
wasn't way we we're well were weren't what what's when where which while who whom why will with won't would
wouldn't yet you you're your yours yourself yourselves again already always another anything etc thing things
time times day days week weeks month months year years thanks thank please hey hi hello guys lol omg ok okay
even going gonna wanna yes yeah nothing something someone everyone nobody anybody keep keeps kept take took
ago two three four five six seven eight nine ten hours hour minutes minute
""".split())


def tokens(text: str) -> set[str]:
    words = {w.lower().replace("’", "'") for w in _WORD.findall(text or "")}
    return {w for w in words if len(w) >= 3 and w not in STOP_WORDS and not w.startswith(("http", "www"))}


def brand_words(names: Iterable[str]) -> set[str]:
    """Brand names and keywords are in every mention: they are never a theme."""
    out: set[str] = set()
    for name in names:
        out |= {w.lower() for w in _WORD.findall(name)}
        out.add(re.sub(r"\W", "", name.lower()))
    return out


def count_terms(texts: Iterable[str], exclude: set[str]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    docs = 0
    for text in texts:
        docs += 1
        counts.update(tokens(text) - exclude)
    return counts, docs


def top_themes(counts: Counter[str], docs: int, limit: int = 10) -> list[dict[str, object]]:
    return [{"term": term, "complaints": n, "share": round(n / docs, 4) if docs else 0.0}
            for term, n in counts.most_common(limit)]
