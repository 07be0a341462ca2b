"""Text normalisation shared by training and inference, and the key used to de-duplicate data sets."""
from __future__ import annotations

import html
import re

import emoji

_USER = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_UESC = re.compile(r"\\u([0-9a-fA-F]{4})")
_SPACE = re.compile(r"\s+")
_KEY_USER = re.compile(r"@\S+")
_KEY_DROP = re.compile(r"https?\S*|[\"\s]")
# skin tones and gender variants say nothing about sentiment and cost tokens
_EMOJI_NOISE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone|_selector|:")

# Emoticons, named like the emoji they stand for, so ":)" and "🙂" reach the model as the same words.
EMOTICONS = {
    ":)": "slightly smiling face", ":-)": "slightly smiling face", "=)": "slightly smiling face",
    ":]": "slightly smiling face", "(:": "slightly smiling face",
    ":D": "grinning face", ":-D": "grinning face", "xD": "grinning squinting face", "XD": "grinning squinting face",
    ":(": "frowning face", ":-(": "frowning face", "=(": "frowning face", ":[": "frowning face",
    ":'(": "crying face", ":'-(": "crying face",
    ";)": "winking face", ";-)": "winking face",
    ":P": "face with tongue", ":p": "face with tongue", ":-P": "face with tongue", ":-p": "face with tongue",
    ":/": "confused face", ":-/": "confused face", ":\\": "confused face",
    ":O": "face with open mouth", ":o": "face with open mouth", ":-O": "face with open mouth",
    ":|": "neutral face", ":-|": "neutral face", "-_-": "expressionless face",
    ":*": "kissing face", ":-*": "kissing face",
    "<3": "red heart", "&lt;3": "red heart", "</3": "broken heart", "&lt;/3": "broken heart",
}
# longest first, so ":-(" wins over ":-" prefixes; never followed by a word character (":Product",
# "10:30") or "/" ("https://"), nor straight after ":" or "/" (what is left of a link)
_EMOTICON = re.compile(r"(?<![:/])(" + "|".join(re.escape(k) for k in sorted(EMOTICONS, key=len, reverse=True))
                       + r")(?![\w/])")


def has_emoticon(text: str) -> bool:
    return _EMOTICON.search(text) is not None


def decode_escapes(text: str) -> str:
    """SemEval 2013/2014 files write characters as literal \\uXXXX; turn them back into characters."""
    return _UESC.sub(lambda m: chr(int(m.group(1), 16)), text)


def _emoji_name(chars: str, data: dict) -> str:
    return " " + _EMOJI_NOISE.sub("", data["en"]).replace("_", " ") + " "


def emoji_to_words(text: str) -> str:
    """Emoji and emoticons as their English names ("😡" -> " enraged face ", ":(" -> " frowning face "):
    the uncased WordPiece vocabulary has no emoji, so without this every one is the same unknown token.
    Runs of the same emoji collapse to one name (fewer tokens, same signal). Cheap character-class
    checks skip the scans a text cannot need: `emoji.replace_emoji` costs ~60 µs per tweet, the
    check under 1 µs (measured on the Spanish XLM-T tweets, 2% of which have an emoji)."""
    if _EMOTICON_HINT.search(text):
        text = _EMOTICON.sub(lambda m: " " + EMOTICONS[m.group(1)] + " ", text)
    if _EMOJI_HINT.search(text):
        text = _REPEAT.sub(r"\1", emoji.replace_emoji(text, replace=_emoji_name))
    return text


# every emoji in emoji.EMOJI_DATA has a character in this class (tests/classify/test_text.py checks it)
_EMOJI_HINT = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001F000-\U0001FAFF]")
_EMOTICON_HINT = re.compile(r"[:;=<(]|-_-|[xX]D")
_REPEAT = re.compile(r"( [a-z][a-z -]*[a-z] )(?:\s*\1)+")


def preprocess(text: str, max_chars: int = 2000, *, emoji_words: bool = True) -> str:
    """What the model sees: handles and links masked the way TweetEval does, so the model never learns
    from (or leaks) account names and URLs; with `emoji_words`, emoji and emoticons as words
    (`emoji_to_words`; models that read emoji themselves, such as a user's Hugging Face model, pass
    False). Long texts are cut early: the encoder reads at most 128 tokens, so tokenising 10 kB of
    text is wasted work."""
    text = text[:max_chars]
    text = _USER.sub("@user", text)
    text = _URL.sub("http", text)
    if emoji_words:
        text = emoji_to_words(text)
    return _SPACE.sub(" ", text).strip()


def dedupe_key(text: str) -> str:
    """Normalised form used to match the same tweet across data sets (see shared/data/README.md):
    decode escapes, unescape HTML, mask handles, drop links and quotes, lower-case, no whitespace."""
    text = html.unescape(decode_escapes(text))
    text = _KEY_USER.sub("@user", text)
    return _KEY_DROP.sub("", text).lower()
