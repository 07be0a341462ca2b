"""Brand questions and complaints: a hand-labelled sample of first customer turns from the IBM
customer-care conversations (shared/data/ibm-customer-care/dev.json). The labels live in the repository
(docs/data/ibm_brand_labels.tsv: tweet id, label, split); the texts stay in shared/data and are joined
by tweet id. How the sample was drawn and labelled: docs/brand-labelling.md."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from classify.base import INTENTS
from classify.data import Example

LABELS_FILE = Path(__file__).resolve().parents[1] / "docs" / "data" / "ibm_brand_labels.tsv"
SPLITS = ("train", "eval")


def first_turns(data: Path, name: str = "dev.json") -> dict[str, str]:
    """tweet id -> message of the first customer turn of each conversation in one IBM split file."""
    out: dict[str, str] = {}
    for conv in json.loads((data / "ibm-customer-care" / name).read_text(encoding="utf-8")):
        turns = conv.get("dialogContent") or []
        if turns and turns[0].get("client") and turns[0].get("message"):
            out[str(turns[0]["tweet_ID"])] = turns[0]["message"]
    return out


def read_labels(path: Path = LABELS_FILE) -> list[tuple[str, str, str]]:
    """(tweet id, intent, split) rows; a label outside INTENTS or an unknown split is a ValueError."""
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
            if row["label"] not in INTENTS or row["split"] not in SPLITS:
                raise ValueError(f"{path} line {n}: label {row['label']!r} / split {row['split']!r} is not valid")
            rows.append((row["tweet_id"], row["label"], row["split"]))
    return rows


def load_brand(data: Path, split: str, path: Path = LABELS_FILE) -> list[Example]:
    """The labelled first turns of one split ("train" or "eval") as intent-only `Example`s."""
    texts = first_turns(data)
    out = []
    for tweet_id, label, row_split in read_labels(path):
        if row_split != split:
            continue
        if tweet_id not in texts:
            raise ValueError(f"{path}: tweet {tweet_id} is not a first customer turn of {data}/ibm-customer-care/dev.json")
        out.append(Example(texts[tweet_id], -1, INTENTS.index(label), f"ibm-brand-{split}"))
    return out


def available(data: Path) -> bool:
    return (data / "ibm-customer-care" / "dev.json").is_file()
