"""A keyword placeholder classifier: no model, no torch. Used by tests that don't care about the model.

The dashboard says so whenever labels come from it (version starts with "placeholder").
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from classify.base import INTENTS, SENTIMENTS, Labels

NEG = re.compile(r"\b(lost|delay\w*|cancel\w*|rude|refund|broken|worst|never|twice|ridiculous|damaged|missing|"
                 r"unbelievable|not ok|chaos|errors?|hold)\b|😡", re.I)
POS = re.compile(r"\b(thanks?|thank you|love|great|best|amazing|smooth\w*|props|shoutout|magical|merci|"
                 r"ありがとう)\b|❤️|👏", re.I)
QUESTION = re.compile(r"\?\s*$|^(does|do|can|how|what|is|anyone know|when)\b", re.I)


def _lang(text: str) -> str | None:
    try:
        from classify.language import detect

        return detect(text)
    except Exception:  # noqa: BLE001 - language is a nice-to-have for the placeholder
        return None


class LexiconClassifier:
    version = "placeholder-lexicon-1"

    def classify(self, texts: Sequence[str]) -> list[Labels]:
        out = []
        for text in texts:
            neg, pos = len(NEG.findall(text or "")), len(POS.findall(text or ""))
            sentiment = "negative" if neg > pos else "positive" if pos > neg else "neutral"
            if QUESTION.search(text or "") and neg == 0:
                intent = "question"
            elif sentiment == "negative":
                intent = "complaint"
            elif sentiment == "positive":
                intent = "praise"
            else:
                intent = "other"
            out.append(Labels(
                sentiment=sentiment, intent=intent,
                sentiment_scores={s: (0.6 if s == sentiment else 0.2) for s in SENTIMENTS},
                intent_scores={i: (0.55 if i == intent else 0.15) for i in INTENTS},
                language=_lang(text or ""),
            ))
        return out
