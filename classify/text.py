"""Text normalisation shared by training and inference, and the key used to de-duplicate data sets."""
from __future__ import annotations

import html
import re

_USER = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_UESC = re.compile(r"\\u([0-9a-fA-F]{4})")
_SPACE = re.compile(r"\s+")
_KEY_USER = re.compile(r"@\S+")
_KEY_DROP = re.compile(r"https?\S*|[\"\s]")


def decode_escapes(text: str) -> str:
    """SemEval 2013/2014 files write characters as literal \\uXXXX; turn them back into characters."""
    return _UESC.sub(lambda m: chr(int(m.group(1), 16)), text)


def preprocess(text: str, max_chars: int = 2000) -> str:
    """What the model sees: handles and links masked the way TweetEval does, so the model never learns
    from (or leaks) account names and URLs. Long texts are cut early: the encoder reads at most
    128 tokens, so tokenising 10 kB of text is wasted work."""
    text = text[:max_chars]
    text = _USER.sub("@user", text)
    text = _URL.sub("http", text)
    return _SPACE.sub(" ", text).strip()


def dedupe_key(text: str) -> str:
    """Normalised form used to match the same tweet across data sets (see shared/data/README.md):
    decode escapes, unescape HTML, mask handles, drop links and quotes, lower-case, no whitespace."""
    text = html.unescape(decode_escapes(text))
    text = _KEY_USER.sub("@user", text)
    return _KEY_DROP.sub("", text).lower()
