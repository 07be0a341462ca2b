"""The parts of `careline evaluate` that revision 3 added: sentiment per language (XLM-T validation
splits), the emoji slice, and brand questions/complaints (the hand-labelled IBM sample's eval part).
Each is skipped, with a line in the report saying why, when its data is not in the data folder."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import emoji
import numpy as np

from classify import brand, finetune, multilingual
from classify.base import INTENTS, SENTIMENTS, Labels
from classify.data import Example, load_tweeteval_val
from classify.metrics import macro_f1, macro_recall
from classify.scores import Scores
from classify.text import has_emoticon

Run = Callable[[Sequence[str]], list[Labels]]


def has_emoji(text: str) -> bool:
    """An emoji or an emoticon the preprocessing turns into words (classify.text)."""
    return emoji.emoji_count(text) > 0 or has_emoticon(text)


def emoji_slice(data: Path) -> list[Example]:
    """Every sentiment-labelled validation tweet with an emoji or emoticon: TweetEval validation plus the
    non-English XLM-T validation splits (its English one is a subset of TweetEval's)."""
    rows = load_tweeteval_val(data)
    if multilingual.available(data):
        for lang in multilingual.LANGUAGES:
            if lang != "en":
                rows += multilingual.load_multilingual(data, lang, "val")
    return [e for e in rows if has_emoji(e.text)]


def n_texts(data: Path) -> int:
    n = len(emoji_slice(data))
    if multilingual.available(data):
        n += sum(len(multilingual.load_multilingual(data, lang, "val")) for lang in multilingual.LANGUAGES)
    if brand.available(data):
        n += len(brand.load_brand(data, "eval"))
    return n


def _probs(labels: list[Labels]) -> tuple[np.ndarray, np.ndarray]:
    s = np.array([[x.sentiment_scores.get(n, 0.0) for n in SENTIMENTS] for x in labels], np.float32)
    i = np.array([[x.intent_scores.get(n, 0.0) for n in INTENTS] for x in labels], np.float32)
    return s.reshape(len(labels), len(SENTIMENTS)), i.reshape(len(labels), len(INTENTS))


def score_slices(out: Scores, run: Run, data: Path) -> None:
    def predict(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return _probs(run(texts))

    rows = emoji_slice(data)
    if rows:
        s, _ = predict([e.text for e in rows])
        gold, pred = [e.sentiment for e in rows], [int(x) for x in s.argmax(1)]
        out.emoji = {"n": len(rows), "macro_f1": macro_f1(gold, pred, 3), "macro_recall": macro_recall(gold, pred, 3),
                     "accuracy": float(np.mean(np.asarray(gold) == np.asarray(pred)))}
    if multilingual.available(data):
        out.languages = finetune.language_scores(predict, data)
    if brand.available(data):
        out.brand = finetune.brand_scores(predict, data)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def render(results: list[Scores]) -> list[str]:
    """Markdown sections for the per-language, emoji and brand figures of each scored model."""
    lines: list[str] = []
    if any(s.languages for s in results):
        langs = [k for k in results[0].languages if k != "pooled"]
        lines += ["", "## Sentiment per language (XLM-T validation splits, macro F1)", "",
                  f"A Latin-script language counts as validated (no `needs_review`) from {_pct(finetune.VALIDATED_F1)} on "
                  "in both builds (classify/fusion_train.py); "
                  "target: es/fr/de/it/pt pooled ≥ 55.0. The English split is a subset of TweetEval validation.", "",
                  "| model | " + " | ".join(langs) + " | es/fr/de/it/pt pooled |", "|---" * (len(langs) + 2) + "|"]
        for s in results:
            lines.append(f"| {s.name} | " + " | ".join(_pct(s.languages[k]) for k in langs)
                         + f" | **{_pct(s.languages['pooled'])}** |")
    if any(s.emoji for s in results):
        lines += ["", "## Emoji slice (sentiment)", "",
                  f"{results[0].emoji['n']} validation tweets with an emoji or emoticon (TweetEval validation and "
                  "the non-English XLM-T validation splits).", "",
                  "| model | macro F1 | macro recall | accuracy |", "|---|---|---|---|"]
        for s in results:
            lines.append(f"| {s.name} | {_pct(s.emoji['macro_f1'])} | {_pct(s.emoji['macro_recall'])} | "
                         f"{_pct(s.emoji['accuracy'])} |")
    if any(s.brand for s in results):
        support = {n: results[0].brand[n]["support"] for n in INTENTS}
        lines += ["", "## Brand questions and complaints (IBM customer-care first turns, eval part)", "",
                  f"{sum(support.values())} hand-labelled first customer turns never trained on "
                  f"(complaint {support['complaint']}, question {support['question']}, other {support['other']}; "
                  "guideline: docs/brand-labelling.md).", "",
                  "| model | complaint P / R | question P / R | other P / R |", "|---|---|---|---|"]
        for s in results:
            b = s.brand
            lines.append(f"| {s.name} | " + " | ".join(
                f"{_pct(b[n]['precision'])} / {_pct(b[n]['recall'])}" for n in ("complaint", "question", "other")) + " |")
        lines += ["", "Confusion (rows gold, columns predicted: " + ", ".join(INTENTS) + "): "
                  + "; ".join(f"{s.name} {s.brand['confusion']['rows']}" for s in results) + "."]
    if not any(s.languages or s.emoji or s.brand for s in results):
        lines += ["", "Per-language, emoji and brand figures skipped: the data folder has no "
                  "multilingual-sentiment/ or ibm-customer-care/ (see ../shared/data/README.md)."]
    return lines

