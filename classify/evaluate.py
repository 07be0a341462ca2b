"""`careline evaluate --data ../shared/data`: the classifier's scores as a Markdown report.

Sentiment: macro-averaged recall on the TweetEval validation split (removed from training).
Complaint: macro F1 of complaint vs not on X-CI; for the shipped model X-CI is training data, so the
report quotes the 5-fold cross-validation measured at training time and the in-sample figure only as
a check. Praise/question: per-class precision/recall on GoEmotions dev mapped to intents, and the
4-intent confusion matrix. Both the full-precision and the int8 model are scored."""
from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from classify import slices
from classify.base import INTENTS, SENTIMENTS, Classifier, Labels
from classify.data import INTENT_IDX, load_goemotions, load_tweeteval_val, load_xci
from classify.metrics import accuracy, confusion, macro_f1, macro_recall, per_class
from classify.scores import Scores

logger = logging.getLogger(__name__)
COMPLAINT = INTENT_IDX["complaint"]


def score(name: str, clf: Classifier, data: Path, progress: Callable[[int], None] | None = None) -> Scores:
    val, xci, dev = load_tweeteval_val(data), load_xci(data), load_goemotions(data, "dev")
    out = Scores(name=name, version=clf.version)
    t0 = time.perf_counter()

    def run(texts: Sequence[str]) -> list[Labels]:
        labels: list[Labels] = []
        for k in range(0, len(texts), 512):
            labels += clf.classify(texts[k: k + 512])
            if progress:
                progress(min(512, len(texts) - k))
        return labels

    lv, lx, ld = run([e.text for e in val]), run([e.text for e in xci]), run([e.text for e in dev])
    out.seconds = time.perf_counter() - t0
    gold = [e.sentiment for e in val]
    pred = [SENTIMENTS.index(x.sentiment) for x in lv]
    out.sentiment_macro_recall = macro_recall(gold, pred, 3)
    out.sentiment_accuracy = accuracy(gold, pred)
    out.sentiment_recall = dict(zip(SENTIMENTS, map(float, per_class(confusion(gold, pred, 3))[1])))
    out.xci_macro_f1 = macro_f1([int(e.intent == COMPLAINT) for e in xci], [int(x.intent == "complaint") for x in lx], 2)
    m = confusion([e.intent for e in dev], [INTENTS.index(x.intent) for x in ld], len(INTENTS))
    p, r, f = per_class(m)
    out.goemotions = {n: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k])} for k, n in enumerate(INTENTS)}
    out.goemotions_confusion = m.tolist()
    out.labels = {"val": [(x.sentiment, x.intent) for x in lv], "xci": [(x.sentiment, x.intent) for x in lx],
                  "dev": [(x.sentiment, x.intent) for x in ld]}
    slices.score_slices(out, run, data)
    out.seconds = time.perf_counter() - t0
    return out


def n_texts(data: Path) -> int:
    return (len(load_tweeteval_val(data)) + len(load_xci(data)) + len(load_goemotions(data, "dev"))
            + slices.n_texts(data))


def agreement(a: Scores, b: Scores) -> dict[str, float]:
    """Share of texts where both give the same sentiment / intent."""
    pa = [x for k in ("val", "xci", "dev") for x in a.labels[k]]
    pb = [x for k in ("val", "xci", "dev") for x in b.labels[k]]
    n = max(1, len(pa))
    return {"sentiment": sum(x[0] == y[0] for x, y in zip(pa, pb)) / n,
            "intent": sum(x[1] == y[1] for x, y in zip(pa, pb)) / n}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def render(results: list[Scores], data: Path, training_metrics: dict | None = None, *,
           xci_in_training: bool = True) -> str:
    """The Markdown report."""
    lines = ["# Classifier evaluation", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} · data `{data}` · {platform.machine()}, "
             f"{platform.python_version()}", ""]
    lines += ["## Summary", "", "| model | version | TweetEval val macro recall (target ≥ 78) | X-CI complaint macro F1"
              + (" (in-sample)" if xci_in_training else "") + " | GoEmotions praise P/R | question P/R | seconds |",
              "|---|---|---|---|---|---|---|"]
    for s in results:
        g = s.goemotions
        lines.append(f"| {s.name} | `{s.version}` | {_pct(s.sentiment_macro_recall)} | {_pct(s.xci_macro_f1)} | "
                     f"{_pct(g['praise']['precision'])} / {_pct(g['praise']['recall'])} | "
                     f"{_pct(g['question']['precision'])} / {_pct(g['question']['recall'])} | {s.seconds:.0f} |")
    if len(results) == 2:
        ag = agreement(*results)
        d = 100 * (results[1].sentiment_macro_recall - results[0].sentiment_macro_recall)
        lines += ["", f"{results[1].name} vs {results[0].name}: macro recall {d:+.2f} points; same sentiment on "
                  f"{_pct(ag['sentiment'])}% and same intent on {_pct(ag['intent'])}% of all "
                  f"{sum(len(v) for v in results[0].labels.values())} texts."]
    if training_metrics and training_metrics.get("xci_cv_folds"):
        folds = [f["macro_f1"] for f in training_metrics["xci_cv_folds"]]
        lines += ["", "## Complaint detection: X-CI 5-fold cross-validation (measured at training time, fp32)", "",
                  "| fold | " + " | ".join(str(k) for k in range(len(folds))) + " | mean ± sd |",
                  "|---" * (len(folds) + 2) + "|",
                  "| macro F1 | " + " | ".join(_pct(f) for f in folds)
                  + f" | **{_pct(float(np.mean(folds)))} ± {_pct(float(np.std(folds)))}** (target ≥ 90) |"]
        if xci_in_training:
            lines += ["", "The X-CI figure in the summary is in-sample (the shipped model trained on all of "
                      "x-ci-train.csv) and only shows that quantisation does not move it; the held-back 20% is "
                      "not in shared/data."]
    lines += slices.render(results)
    for s in results:
        lines += ["", f"## {s.name}: details", "",
                  "Sentiment recall per class (TweetEval val): " + ", ".join(
                      f"{k} {_pct(v)}" for k, v in s.sentiment_recall.items())
                  + f"; accuracy {_pct(s.sentiment_accuracy)}.", "",
                  "GoEmotions dev mapped to intents (rows gold, columns predicted):", "",
                  "| gold \\ predicted | " + " | ".join(INTENTS) + " | precision | recall |",
                  "|---" * (len(INTENTS) + 3) + "|"]
        for k, row in enumerate(s.goemotions_confusion):
            g = s.goemotions[INTENTS[k]]
            lines.append(f"| **{INTENTS[k]}** | " + " | ".join(map(str, row))
                         + f" | {_pct(g['precision'])} | {_pct(g['recall'])} |")
    lines += ["", "Published TweetEval *test* figures for comparison (macro recall): TimeLMs-2021 73.7, "
              "RoBERTa-base 71.3, FastText 62.9; the validation split scored here is easier than that test.", ""]
    return "\n".join(lines)


def load_training_metrics(directory: Path) -> dict | None:
    path = directory / "training_metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
