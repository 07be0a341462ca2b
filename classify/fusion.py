"""Late fusion for the languages the English vocabulary reads badly: a character n-gram sentiment model
whose probabilities are blended with the transformer's for posts detected (classify.language) in one
of its languages other than English. English posts keep the transformer's output exactly.

Why: careline-minilm's uncased English WordPiece vocabulary splits Spanish, French, Italian and
Portuguese words into fragments it never learnt, so its sentiment there stays near 0.46-0.50 macro-F1
(MODEL_CARD.md). Character n-grams read any script; trained on XLM-T's train tweets in 8 languages,
their out-of-fold probabilities blended with the transformer's lift the pooled es/fr/de/it/pt figure
(the measured figures, the blend weights and how they were chosen: MODEL_CARD.md, *Multilingual
fusion*). The model is a hashing vectoriser (no vocabulary to store: scikit-learn's murmurhash of each
n-gram picks its column) and one multinomial logistic regression, shipped as plain arrays in a
safetensors file (classify/fusion_train.py fits it), so loading runs no pickle and needs no network.

Measured cost: see `score` (below) and docs/classifier.md."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classify.base import ModelError
from classify.text import preprocess

logger = logging.getLogger(__name__)

FUSION_FILE = "fusion.safetensors"
# the feature recipe: changing any of these needs a refit (fusion_train), so they travel in the file
FEATURES = {"analyzer": "char_wb", "ngram_min": 2, "ngram_max": 5, "bits": 18}


def normalise(text: str) -> str:
    """What the n-gram model reads: handles and links masked as for the transformer, emoji kept as
    characters (an n-gram reads them directly), lower-cased."""
    return preprocess(text or "", emoji_words=False).lower()


def vectoriser(features: dict):  # type: ignore[no-untyped-def]
    """scikit-learn's HashingVectorizer for the recipe: stateless, so nothing but the recipe is stored."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer=features["analyzer"], ngram_range=(features["ngram_min"], features["ngram_max"]),
                             n_features=2 ** features["bits"], alternate_sign=False, norm=None, lowercase=False)


def featurise(texts: Sequence[str], features: dict):  # type: ignore[no-untyped-def]
    """Sparse (texts x 2**bits) matrix: log(1 + count) of each hashed n-gram, each row scaled to unit
    length, so long and short posts weigh alike. Shared by training and inference."""
    from sklearn.preprocessing import normalize

    x = vectoriser(features).transform([normalise(t) for t in texts])
    x.data = np.log1p(x.data)
    return normalize(x)


@dataclass(frozen=True)
class CharNgramFusion:
    """The fitted n-gram model and its blend weight per language.

    `weights` is (3, 2**bits) float16, `bias` (3,) float32; `blend[lang]` is the n-gram model's share
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
        x = featurise(texts, self.features)
        logits = np.asarray(x @ self.weights.T.astype(np.float32)) + self.bias
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
        model = CharNgramFusion(version=meta["version"], weights=weights, bias=bias,
                                blend={str(k): float(v) for k, v in json.loads(meta["blend"]).items()},
                                features=json.loads(meta["features"]))
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        detail = " ".join(str(exc).split()).rstrip(".")  # one line, whatever the library wrote
        raise ModelError(f"multilingual fusion model {path} is corrupt ({type(exc).__name__}: {detail}); "
                         "reinstall careline or rebuild it with `python -m classify.fusion_train`") from exc
    if weights.shape != (3, 2 ** int(model.features["bits"])) or bias.shape != (3,):
        raise ModelError(f"multilingual fusion model {path} is corrupt: weights {weights.shape}, bias {bias.shape} "
                         "do not fit its feature recipe; rebuild it with `python -m classify.fusion_train`")
    return model
