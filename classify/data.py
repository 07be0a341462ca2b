"""Loaders for the labelled sets in shared/data (see its README), turned into one list of `Example`s.

Targets use -1 for "not labelled for this task"; intent NOT_COMPLAINT marks X-CI non-complaints,
which say only "not a complaint" (they may be praise, a question or neither)."""
from __future__ import annotations

import csv
import html
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classify.base import INTENTS, SENTIMENTS
from classify.text import decode_escapes, dedupe_key

logger = logging.getLogger(__name__)

NOT_COMPLAINT = len(INTENTS)  # partial label: any intent but complaint
SENT_IDX = {s: i for i, s in enumerate(SENTIMENTS)}
INTENT_IDX = {s: i for i, s in enumerate(INTENTS)}

# GoEmotions labels that map to intents (shared/data/README.md); "other" comes from neutral alone.
GOEMO_INTENT = {
    "admiration": "praise", "gratitude": "praise", "approval": "praise",
    "annoyance": "complaint", "disapproval": "complaint", "anger": "complaint", "disappointment": "complaint",
    "curiosity": "question", "confusion": "question",
    "neutral": "other",
}


@dataclass
class Example:
    text: str
    sentiment: int = -1
    intent: int = -1
    source: str = ""
    group: int = -1  # X-CI row position, used for cross-validation folds


def default_data_dir() -> Path | None:
    """`../shared/data` beside the checkout (or the working directory) when it exists."""
    here = Path(__file__).resolve().parents[1]
    for cand in (here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None


def load_tweeteval_val(data: Path) -> list[Example]:
    d = data / "tweeteval-sentiment-val"
    texts = (d / "val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (d / "val_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise ValueError(f"{d}: {len(texts)} texts but {len(labels)} labels")
    return [Example(t.strip(), int(y), -1, "tweeteval-val") for t, y in zip(texts, labels)]


def _labelled_tweets(files: list[Path], label_col: int, text_col: int,
                     exclude_keys: set[str]) -> Iterator[tuple[str, str, str]]:
    """(normalised key, decoded text, label) for each labelled row of SemEval-style TSV files."""
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                cols = line.rstrip("\n").split("\t")
                if len(cols) <= text_col or cols[label_col] not in SENT_IDX:
                    continue
                text = html.unescape(decode_escapes(cols[text_col])).strip().strip('"')
                key = dedupe_key(text)
                if key and key not in exclude_keys:
                    yield key, text, cols[label_col]


def load_semeval(data: Path, exclude_keys: set[str]) -> list[Example]:
    """The SemEval-2013..2016 4A pool, de-duplicated on normalised text; tweets whose copies disagree
    on the label are dropped, and so is every tweet of the TweetEval validation split."""
    by_key: dict[str, tuple[str, set[str]]] = {}
    files = sorted((data / "semeval-sentiment").glob("twitter-*-A.tsv"))
    for key, text, label in _labelled_tweets(files, 1, 2, exclude_keys):
        by_key.setdefault(key, (text, set()))[1].add(label)
    out = [Example(t, SENT_IDX[next(iter(ls))], -1, "semeval") for t, ls in by_key.values() if len(ls) == 1]
    logger.info("semeval: %d unique tweets kept (%d with conflicting labels dropped)",
                len(out), len(by_key) - len(out))
    return out


def load_topic_sentiment(data: Path, exclude_keys: set[str]) -> list[Example]:
    """SemEval 4B/D: sentiment towards a topic, mostly brands. Close to, not the same as, message
    polarity, so it is optional extra data (it lowered validation recall in an ablation)."""
    seen: dict[str, Example] = {}
    files = sorted((data / "semeval-topic-sentiment").glob("twitter-*-BD.tsv"))
    for key, text, label in _labelled_tweets(files, 2, 3, exclude_keys):
        seen.setdefault(key, Example(text, SENT_IDX[label], -1, "topic"))
    return list(seen.values())


def load_xci(data: Path) -> list[Example]:
    """X-CI complaints: complaint label plus a (case-varying) sentiment label."""
    out = []
    with (data / "complaints" / "x-ci-train.csv").open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            sent = SENT_IDX.get(row["sentiment"].strip().lower(), -1)
            intent = INTENT_IDX["complaint"] if row["label"].strip() == "1" else NOT_COMPLAINT
            out.append(Example(row["tweet"].strip(), sent, intent, "xci", group=i))
    return out


def goemotions_intent(label_ids: list[int], names: list[str]) -> int:
    """One intent when the labels point at exactly one intent group, else -1 (skipped): rows with
    other emotions (joy, love, ...) or with labels from two groups have no clear intent."""
    names_here = {names[i] for i in label_ids}
    if not names_here <= GOEMO_INTENT.keys():
        return -1
    groups = {GOEMO_INTENT[n] for n in names_here}
    return INTENT_IDX[groups.pop()] if len(groups) == 1 else -1


def _goemotions_rows(data: Path, split: str) -> Iterator[tuple[str, int]]:
    """(comment text, intent or -1) for each row of a GoEmotions split."""
    d = data / "goemotions"
    names = (d / "labels.txt").read_text(encoding="utf-8").split()
    with (d / f"{split}.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2:
                yield cols[0].strip(), goemotions_intent([int(x) for x in cols[1].split(",")], names)


def load_goemotions(data: Path, split: str) -> list[Example]:
    return [Example(text, -1, intent, f"goemotions-{split}") for text, intent in _goemotions_rows(data, split)
            if intent >= 0]


def load_goemotions_texts(data: Path, split: str, *, unmapped_only: bool = False) -> list[str]:
    """Comment texts of a GoEmotions split; with `unmapped_only`, just those `load_goemotions` leaves out
    (emotions outside the intent groups, or two groups at once)."""
    return [text for text, intent in _goemotions_rows(data, split) if not unmapped_only or intent < 0]


def load_ibm_first_turns(data: Path) -> list[str]:
    """First customer message of each IBM customer-care conversation: unlabelled realistic mentions."""
    texts = []
    for name in ("dev.json", "test.json"):
        for conv in json.loads((data / "ibm-customer-care" / name).read_text(encoding="utf-8")):
            for turn in conv.get("dialogContent", []):
                if "client" in turn:
                    texts.append(turn["client"]["message"] if isinstance(turn["client"], dict)
                                 else str(turn.get("message", "")))
                    break
    return [t for t in texts if t]


def training_pool(data: Path, *, topic: bool = False) -> tuple[list[Example], list[Example]]:
    """(sentiment-only examples, intent examples from GoEmotions train). X-CI is separate so that
    cross-validation can hold out its folds."""
    val_keys = {dedupe_key(e.text) for e in load_tweeteval_val(data)}
    sent = load_semeval(data, val_keys)
    if topic:
        have = {dedupe_key(e.text) for e in sent}
        sent += load_topic_sentiment(data, val_keys | have)
    intents = load_goemotions(data, "train")
    logger.info("pool: %s sentiment, %s intent", Counter(e.sentiment for e in sent),
                Counter(e.intent for e in intents))
    return sent, intents


def xci_folds(examples: list[Example], k: int = 5, seed: int = 13) -> list[list[int]]:
    """Stratified k folds of X-CI row positions (deterministic)."""
    import random

    by_label: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_label[e.intent].append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    rng = random.Random(seed)
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return [sorted(f) for f in folds]
