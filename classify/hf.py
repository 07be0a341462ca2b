"""Any Hugging Face text-classification model as a Careline classifier, through a label map.

Sentiment comes from the model, its labels mapped onto negative/neutral/positive. Intent comes from
a rule, since such models have no intent head:
  question   the text asks something (ends with "?" or opens with a question word) and is not
             more likely negative than not;
  complaint  negative sentiment;
  praise     positive sentiment;
  other      otherwise.
Intent scores are derived from the sentiment probabilities the same way, so they sum to 1."""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classify.base import INTENTS, SENTIMENTS, Labels, ModelError
from classify.language import detect
from classify.minilm import bucket_batches
from classify.text import preprocess

logger = logging.getLogger(__name__)

QUESTION = re.compile(r"\?\s*(\W*)$|^\s*(who|what|when|where|why|how|which|can|could|does|do|did|is|are|will|"
                      r"would|should|anyone)\b", re.I)
# Common label names seen on the hub, lower-cased, for models whose config says LABEL_0..2 or words.
_KNOWN = {"negative": "negative", "neg": "negative", "neutral": "neutral", "neu": "neutral",
          "positive": "positive", "pos": "positive", "label_0": "negative", "label_1": "neutral",
          "label_2": "positive", "1 star": "negative", "2 stars": "negative", "3 stars": "neutral",
          "4 stars": "positive", "5 stars": "positive"}


def resolve_label_map(id2label: dict[int, str], label_map: dict[str, str] | None) -> list[str]:
    """For each model output index, the Careline sentiment it counts towards."""
    explicit = {k.lower(): v for k, v in (label_map or {}).items()}
    out = []
    for idx in sorted(id2label):
        name = str(id2label[idx]).lower()
        target = explicit.get(name) or explicit.get(str(idx)) or (None if explicit else _KNOWN.get(name))
        if target not in SENTIMENTS:
            raise ModelError(f"model label {id2label[idx]!r} has no sentiment mapping; set CARELINE_MODEL_LABEL_MAP "
                             f"to map each of {sorted(map(str, id2label.values()))} to one of {list(SENTIMENTS)}")
        out.append(target)
    return out


def intent_from(text: str, s: np.ndarray) -> np.ndarray:
    """The documented rule above, as probabilities over INTENTS (complaint, praise, question, other):
    a text that asks something splits between complaint (its negative probability) and question
    (the rest); any other text maps negative/positive/neutral to complaint/praise/other."""
    neg, neu, pos = (float(x) for x in s)
    if QUESTION.search(text or ""):
        return np.array([neg, 0.0, neu + pos, 0.0], dtype=np.float32)
    return np.array([neg, pos, 0.0, neu], dtype=np.float32)


class HFClassifier:
    def __init__(self, name: str, *, label_map: dict[str, str] | None = None, device: str | None = None,
                 max_len: int = 128, batch_size: int = 32, detect_language: bool = True) -> None:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"model {name!r} needs torch: pip install torch (the CPU build will do)") from exc
        local = Path(name).expanduser()
        source = str(local) if local.exists() else name
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModelForSequenceClassification.from_pretrained(source).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model {name!r}: {exc}") from exc
        self.device = device or "cpu"
        self.model.to(self.device)
        self._torch = torch
        self.targets = resolve_label_map(dict(self.model.config.id2label), label_map)
        self.max_len, self.batch_size, self.detect_language = max_len, batch_size, detect_language
        self.version = f"hf:{name}"

    def sentiment_proba(self, texts: Sequence[str]) -> np.ndarray:
        clean = [preprocess(t or "", emoji_words=False) for t in texts]  # its own tokenizer reads emoji
        lengths = [len(t) for t in clean]
        out = np.zeros((len(texts), len(SENTIMENTS)), np.float32)
        for batch in bucket_batches(lengths, self.batch_size, 1 << 30):
            enc = self.tokenizer([clean[i] for i in batch], padding=True, truncation=True,
                                 max_length=self.max_len, return_tensors="pt").to(self.device)
            with self._torch.inference_mode():
                probs = self.model(**enc).logits.float().softmax(-1).cpu().numpy()
            for j, target in enumerate(self.targets):  # several model labels may map to one of ours
                out[batch, SENTIMENTS.index(target)] += probs[:, j]
        return out

    def classify(self, texts: Sequence[str]) -> list[Labels]:
        texts = [t if isinstance(t, str) else "" for t in texts]
        if not texts:
            return []
        s = self.sentiment_proba(texts)
        out = []
        for k, text in enumerate(texts):
            i = intent_from(text, s[k])
            out.append(Labels(
                sentiment=SENTIMENTS[int(s[k].argmax())], intent=INTENTS[int(i.argmax())],
                sentiment_scores={n: round(float(p), 4) for n, p in zip(SENTIMENTS, s[k])},
                intent_scores={n: round(float(p), 4) for n, p in zip(INTENTS, i)},
                language=detect(text) if self.detect_language else None))
        return out
