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
# Languages with a real presence on the platforms Careline reads. Left to all 97 of its languages,
# langid calls short English posts Breton or Xhosa ("hello?" -> br); a shortlist avoids that.
LANGUAGES = ("af ar bg bn ca cs cy da de el en es et eu fa fi fr ga gl he hi hr hu id is it ja ko lt lv "
             "ms nl no pl pt ro ru sk sl sq sr sv sw ta te th tl tr uk ur vi zh").split()
MIN_CONFIDENCE = 0.2  # below this the guess is noise (one-word posts like "thanks!" or "ok lol")


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    # our own instance: set_languages on the package's shared one would change it for everyone
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([code for code in LANGUAGES if code in ident.nb_classes])
    return ident


def detect(text: str) -> str | None:
    """ISO 639-1 code, or None when the text gives too little to judge (empty, emoji-only, numbers,
    or a word or two the detector is unsure about)."""
    cleaned = _NOISE.sub(" ", text or "")[:1000]
    if len(_LETTER.findall(cleaned)) < 2:
        return None
    lang, prob = _identifier().classify(cleaned)
    return str(lang) if prob >= MIN_CONFIDENCE else None


def detect_many(texts: Sequence[str]) -> list[str | None]:
    return [detect(t) for t in texts]
