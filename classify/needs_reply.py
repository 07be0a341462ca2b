"""Does a mention need an answer from the brand? A documented rule over the text and the model's labels.

A leaf (never imports `careline`). Mentions that need no answer are told apart by what they are, checked
in this order (the first that matches is the reason):
- "spam": promotion patterns (giveaway, promo code, follow for follow, crypto...), or 4+ hashtags, or
  3+ links;
- "link only": a link with fewer than 3 words of its own (handles, hashtags and emoji don't count);
- "news share": a link, and the post speaks about the brand rather than to it: no I/me/my/we/our/you,
  no question mark (a headline, "via @outlet", "reports:"...);
- "joke": laughing (lol, lmao, haha, 😂, 🤣) with no problem or question words;
- "no request": the model calls it praise or other and it asks nothing (no "?", no help/please/fix/
  refund/when/how...): a thank-you is optional, not owed.
Everything else needs a reply: complaints, questions and requests, whatever the model's intent says when
the post asks something. docs/needs-reply.md has the labelling guideline and the measured precision
(benchmarks/needs_reply_precision.py on docs/data/needs_reply_sample.csv).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_HANDLE = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#\w+")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_SPAM = re.compile(
    r"\b(giveaway|give ?away|promo code|discount code|use code|coupon|follow (me|back|for follow)|f4f|"
    r"check out my|click (here|the link)|link in (my )?bio|dm me for|earn \$|make \$|\$\d+ (a|per) day|"
    r"crypto|bitcoin|nft|airdrop|onlyfans|free followers|sign up (now|today)|limited offer|win a)\b", re.I)
_LAUGH = re.compile(r"\b(lol+|lmao+|rofl|haha(ha)*|hehe+|jk)\b|😂|🤣|😆|😹", re.I)
_PERSONAL = re.compile(r"\b(i|i'm|im|i've|i'd|me|my|mine|we|we're|our|us|you|your|you're|u|ur)\b", re.I)
_ASK = re.compile(
    r"\?|\b(help|please|pls|plz|fix|refund|replace|when|how|why|where|what|who|can (you|i|someone)|"
    r"could you|would you|need|want|waiting|still|contact|dm|respond|answer|any update|cancel|broken|"
    r"missing|lost|delayed|charged|not working|doesn't work|won't|can't|cannot|never (arrived|came|received))\b",
    re.I)


@dataclass(frozen=True)
class Verdict:
    needs_reply: bool
    reason: str  # "complaint", "question", "request" / "spam", "link only", "news share", "joke", "no request"


def judge(text: str, intent: str | None = None) -> Verdict:
    """The verdict for one post (see the module docstring); `intent` is the effective intent if known."""
    text = text or ""
    links = len(_URL.findall(text))
    plain = _HASHTAG.sub(" ", _HANDLE.sub(" ", _URL.sub(" ", text)))
    words = _WORD.findall(plain)
    asks = bool(_ASK.search(plain))
    if _SPAM.search(text) or len(_HASHTAG.findall(text)) >= 4 or links >= 3:
        return Verdict(False, "spam")
    if links and len(words) < 3:
        return Verdict(False, "link only")
    if links and not _PERSONAL.search(plain) and "?" not in plain:
        return Verdict(False, "news share")
    if _LAUGH.search(text) and not asks and intent != "complaint":
        return Verdict(False, "joke")
    if intent in ("complaint", "question"):
        return Verdict(True, intent)
    if asks:
        return Verdict(True, "request")
    return Verdict(False, "no request")
