"""Late fusion for the languages the English vocabulary reads badly: a character n-gram sentiment model
whose probabilities are blended with the transformer's for posts detected (classify.language) in one
of its languages other than English. English posts keep the transformer's output exactly.

Why: careline-minilm's uncased English WordPiece vocabulary splits Spanish, French, Italian and
Portuguese words into fragments it never learnt, so its sentiment there stays near 0.46-0.50 macro-F1
(MODEL_CARD.md). Character n-grams read any script; trained on XLM-T's train tweets in 8 languages,
their out-of-fold probabilities blended with the transformer's lift the pooled es/fr/de/it/pt figure
(the measured figures, the blend weights and how they were chosen: MODEL_CARD.md, *Multilingual
fusion*). The model is hashed character n-grams (no vocabulary to store: the crc32 of each n-gram picks
its column) and one multinomial logistic regression (scikit-learn, at training time only), shipped as
plain arrays in a safetensors file (classify/fusion_train.py fits it), so loading runs no pickle, needs
no network and imports nothing beyond NumPy and safetensors.

Measured (2-core AMD EPYC, one thread, load 2.8): `probabilities` does 5,400-6,000 posts per CPU-second
(~0.17 ms each, the 1,620 es/fr/de/it/pt validation tweets, three repeats), against ~400 for the int8
network on one core; `load` takes ~20 ms. End-to-end figures with and without it: MODEL_CARD.md."""
from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classify.base import ModelError
from classify.text import preprocess

logger = logging.getLogger(__name__)

FUSION_FILE = "fusion.safetensors"
# the feature recipe: changing any of these needs a refit (fusion_train), so they travel in the file.
# "crc32-char_wb": n-grams of each space-padded word (as scikit-learn's char_wb analyser), hashed with
# zlib.crc32 into 2**bits columns
FEATURES = {"analyzer": "crc32-char_wb", "ngram_min": 2, "ngram_max": 5, "bits": 18}

Row = tuple[np.ndarray, np.ndarray]  # one text's hashed columns (int64, unique) and their values (float32)


def normalise(text: str) -> str:
    """What the n-gram model reads: handles and links masked as for the transformer, emoji kept as
    characters (an n-gram reads them directly), lower-cased."""
    return preprocess(text or "", emoji_words=False).lower()


def ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams (lo..hi) inside each word padded with one space either side, so n-grams never
    span two words and word starts and ends are marked; a word shorter than n gives itself once."""
    out: list[str] = []
    for word in text.split():
        w = f" {word} "
        for n in range(lo, hi + 1):
            if len(w) <= n:
                out.append(w)
                break
            out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


def hashed(text: str, features: dict) -> Row:
    """One text's features: log(1 + count) of each hashed n-gram, scaled to unit length so long and
    short posts weigh alike. Shared by training and inference. Hashing with the standard library's
    crc32 rather than scikit-learn's HashingVectorizer keeps scikit-learn (a 1.1 s import, measured on
    the 2-core EPYC) off the run-time path; the two featurisers scored alike out of fold."""
    grams = ngrams(normalise(text), int(features["ngram_min"]), int(features["ngram_max"]))
    if not grams:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    mask = (1 << int(features["bits"])) - 1
    cols = np.fromiter((zlib.crc32(g.encode("utf-8")) & mask for g in grams), np.int64, len(grams))
    cols, counts = np.unique(cols, return_counts=True)
    vals = np.log1p(counts.astype(np.float32))
    return cols, vals / np.float32(np.sqrt(vals @ vals))


def featurise(texts: Sequence[str], features: dict):  # type: ignore[no-untyped-def]
    """The same features as a scipy CSR matrix (texts x 2**bits), for training (scikit-learn)."""
    from scipy.sparse import csr_matrix

    rows = [hashed(t, features) for t in texts]
    indptr = np.cumsum([0] + [len(c) for c, _ in rows])
    cols = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, np.int64)
    vals = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, np.float32)
    return csr_matrix((vals, cols, indptr), shape=(len(texts), 1 << int(features["bits"])))


@dataclass(frozen=True)
class CharNgramFusion:
    """The fitted n-gram model and its blend weight per language.

    `weights` is (3, 2**bits) float32 (stored as float16: 1.5 MB), `bias` (3,) float32; `blend[lang]` is the n-gram model's share
    w in p = (1 - w) * p_transformer + w * p_ngram, chosen on held-out folds of the train split."""

    version: str
    weights: np.ndarray
    bias: np.ndarray
    blend: dict[str, float]
    features: dict

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(k for k, w in self.blend.items() if w > 0)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, 3) sentiment probabilities of the n-gram model alone."""
        if not len(texts):
            return np.zeros((0, 3), np.float32)
        logits = np.empty((len(texts), 3), np.float32)
        for k, text in enumerate(texts):  # a few hundred columns per text: gather them, no sparse matrix
            cols, vals = hashed(text, self.features)
            logits[k] = self.weights[:, cols] @ vals
        logits += self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def apply(self, texts: Sequence[str], languages: Sequence[str | None], sentiment: np.ndarray) -> np.ndarray:
        """The transformer's sentiment probabilities with the blend applied to the rows whose detected
        language has a weight; every other row (English, undetected, untrained languages) is returned
        as it came, bit for bit."""
        rows = [k for k, lang in enumerate(languages) if lang and self.blend.get(lang, 0.0) > 0]
        if not rows:
            return sentiment
        out = sentiment.copy()
        w = np.array([self.blend[languages[k]] for k in rows], np.float32)[:, None]  # type: ignore[index]
        out[rows] = (1.0 - w) * sentiment[rows] + w * self.probabilities([texts[k] for k in rows])
        return out


def save(path: Path, model: CharNgramFusion) -> None:
    """Arrays in a safetensors file, the recipe and blend weights in its string metadata."""
    from safetensors.numpy import save_file

    meta = {"version": model.version, "blend": json.dumps(model.blend), "features": json.dumps(model.features)}
    # C order explicitly: scikit-learn's coef_ can be Fortran-ordered, and safetensors writes the raw
    # buffer as if it were C-ordered (an F-ordered matrix came back scrambled)
    save_file({"weights": np.ascontiguousarray(model.weights, dtype=np.float16),
               "bias": np.ascontiguousarray(model.bias, dtype=np.float32)}, str(path), metadata=meta)


def load(path: Path) -> CharNgramFusion:
    """The fusion model in `path`; a missing or damaged file is one ModelError sentence naming it."""
    from safetensors import safe_open

    if not path.is_file():
        raise ModelError(f"multilingual fusion model missing: {path} (reinstall careline, or rebuild it with "
                         "`python -m classify.fusion_train --data ../shared/data --model DIR`)")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            weights, bias = fh.get_tensor("weights"), fh.get_tensor("bias")
        model = CharNgramFusion(version=meta["version"], weights=weights.astype(np.float32), bias=bias,
                                blend={str(k): float(v) for k, v in json.loads(meta["blend"]).items()},
                                features=json.loads(meta["features"]))
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        detail = " ".join(str(exc).split()).rstrip(".")  # one line, whatever the library wrote
        raise ModelError(f"multilingual fusion model {path} is corrupt ({type(exc).__name__}: {detail}); "
                         "reinstall careline or rebuild it with `python -m classify.fusion_train`") from exc
    if model.features.get("analyzer") != FEATURES["analyzer"]:
        raise ModelError(f"multilingual fusion model {path} was built for features {model.features.get('analyzer')!r}, "
                         f"which this release does not compute; rebuild it with `python -m classify.fusion_train`")
    if weights.shape != (3, 2 ** int(model.features["bits"])) or bias.shape != (3,):
        raise ModelError(f"multilingual fusion model {path} is corrupt: weights {weights.shape}, bias {bias.shape} "
                         "do not fit its feature recipe; rebuild it with `python -m classify.fusion_train`")
    return model
