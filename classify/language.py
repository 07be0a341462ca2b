"""Language of each mention, with py3langid (a maintained, offline, pure-Python langid.py)."""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache

logger = logging.getLogger(__name__)

# Handles, links and hashtags say nothing about the language and mislead the detector on short posts.
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+|#")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid import langid

    return langid._get_identifier()  # the package's own shared, lazily loaded model


def detect(text: str) -> str | None:
    """ISO 639-1 code, or None when the text has no letters to judge (empty, emoji-only, numbers)."""
    cleaned = _NOISE.sub(" ", text or "")[:1000]
    if len(_LETTER.findall(cleaned)) < 2:
        return None
    lang, _prob = _identifier().classify(cleaned)
    return str(lang)


def detect_many(texts: Sequence[str]) -> list[str | None]:
    return [detect(t) for t in texts]
