"""The pieces of a theme that the themes service and its two groupings share (services/themes.py,
clustering.py, word_themes.py): the Theme result, the stop-words and a post's words and phrases.

A layer below all three, so they import it and not each other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_K = 10
SELECTION_SAMPLE = 2000
EXAMPLES = 3

STOP_WORDS = frozenset("""
a about above after again against all almost also am amp an and any anyone are aren't around as at away back be
because been before being below between both but by can can't cannot com could couldn't did didn't do does
doesn't doing don't done dont down during each else even ever every few for from further get gets getting got
had hadn't has hasn't have haven't having he her here hers herself hey hi him himself his how http https i i'm
i've if im in into is isn't it it's its itself ive just know last let let's like made make makes me more most
much must my myself never new no nor not now of off on once one only or other our ours ourselves out over own
really right said same say says see she should shouldn't since so some still such than thanks thank that
that's thats the their theirs them themselves then there there's these they they're this those though through
to today tonight too under until up upon us very via want was wasn't way we we're well were weren't what
what's when where which while who whom why will with won't would wouldn't www yet you you're your yours
yourself yourselves already always another anything etc thing things time times day days week weeks month
months year years please guys lol omg ok okay going gonna wanna yes yeah nothing something someone everyone
nobody anybody keep keeps kept take took ago two three four five six seven eight nine ten hours hour minutes
minute
""".split())
WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]{3,}", re.UNICODE)


@dataclass
class Theme:
    label: str                       # its characteristic words, "baggage · luggage · bags"
    terms: list[str]
    size: int                        # mentions in the period (in the sample)
    share: float                     # of the period's mentions of this intent, 0..1
    previous: int | None             # mentions like these in the previous period (None: not compared)
    sentiment: dict[str, int]        # effective sentiment → count
    examples: list[tuple[int, str]]  # (mention id, text) nearest the centre
    mention_ids: list[int] = field(default_factory=list, repr=False)

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (None when there was nothing to compare)."""
        if not self.previous:
            return None
        return (self.size - self.previous) / self.previous

    def as_row(self) -> dict[str, Any]:
        """A flat row for exports and tables (texts are the caller's to display as plain text)."""
        return {"theme": self.label, "mentions": self.size, "share": round(self.share, 4),
                "previous": self.previous, "change": None if self.change is None else round(self.change, 3),
                "negative": self.sentiment.get("negative", 0), "neutral": self.sentiment.get("neutral", 0),
                "positive": self.sentiment.get("positive", 0),
                "example": self.examples[0][1] if self.examples else ""}


def tokens(text: str, skip: set[str]) -> list[str]:
    words = [w.lower().replace("’", "'").strip("'-") for w in WORD.findall(text or "")]
    return [w for w in words if len(w) >= 3 and w not in skip and not w.startswith(("http", "www"))]


def terms(text: str, skip: set[str]) -> set[str]:
    """A post's words and two-word phrases, once each; a phrase only from words next to each other in
    the post ("baggage belt"), never across a dropped word ("belt empty, no staff" gives no "empty staff")."""
    words = [w.lower().replace("’", "'").strip("'-") for w in WORD.findall(text or "")]
    keep = [len(w) >= 3 and w not in skip and not w.startswith(("http", "www")) for w in words]
    out = {w for w, k in zip(words, keep) if k}
    out.update(f"{a} {b}" for i, (a, b) in enumerate(zip(words, words[1:])) if keep[i] and keep[i + 1])
    return out
