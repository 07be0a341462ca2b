"""Language of each mention, with py3langid's model (offline, about a hundred languages).

py3langid scores one text at a time in Python (a byte-by-byte walk of its feature automaton, then a
small matrix product); for a file of posts that was a tenth of `careline classify`. `detect_many`
runs the same model over a whole batch with NumPy: the automaton advances every text one byte per
step, and the naive-Bayes scores are one gather-and-sum over the batch's (text, feature) counts. The
answers are py3langid's own (tests/classify/test_language.py checks them against its `classify`).
Its model file is LZMA-compressed and takes about a second to decode, so the decoded arrays, already
cut to our languages, are cached beside the ONNX models."""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import zipfile
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Handles, links and hashtags say nothing about the language and mislead the detector on short posts.
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+|#")
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.DOTALL)  # letters, not digits/emoji/_
# Languages with a real presence on the platforms Careline reads. Left to all 97 of its languages,
# langid calls short English posts Breton or Xhosa ("hello?" -> br); a shortlist avoids that.
LANGUAGES = ("af ar bg bn ca cs cy da de el en es et eu fa fi fr ga gl he hi hr hu id is it ja ko lt lv "
             "ms nl no pl pt ro ru sk sl sq sr sv sw ta te th tl tr uk ur vi zh").split()
MIN_CONFIDENCE = 0.2  # below this the guess is noise (one-word posts like "thanks!" or "ok lol")
MAX_CHARS = 1000
CHUNK = 1024  # texts per vectorised pass: bounds the (bytes x texts) state matrix
FEW = 16  # below this many texts, py3langid's per-text walk is quicker than the batched one
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class _Model:
    """py3langid's model in array form, restricted to LANGUAGES."""

    nextmove: np.ndarray  # uint32, distinct 256-entry transition rows, flattened
    rowbase: np.ndarray  # int64 per state: offset of its row in `nextmove`
    output: np.ndarray  # int32 per state: the feature it emits or -1; one extra -1 for padding
    ptc: np.ndarray  # float16 as py3langid keeps it (features, classes): log P(feature | class)
    pc: np.ndarray  # float32 (classes,): log prior
    classes: tuple[str, ...]

    @property
    def alias_pairs(self) -> list[tuple[int, int]]:
        """(first, duplicate) columns of a label the model holds twice (Serbian in two scripts)."""
        first: dict[str, int] = {}
        pairs = []
        for i, c in enumerate(self.classes):
            if c in first:
                pairs.append((first[c], i))
            else:
                first.setdefault(c, i)
        return pairs


def _cache_file() -> Path | None:
    try:
        from py3langid import __version__ as version
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        from classify.artifact import default_cache_dir

        size = (MODEL_DIR / MODEL_FILE).stat().st_size
    except (ImportError, OSError):
        return None
    key = hashlib.sha256(f"{_CACHE_FORMAT} {version} {size} {' '.join(LANGUAGES)}".encode()).hexdigest()[:12]
    return default_cache_dir() / f"py3langid-{version}-{key}.npz"


def _from_py3langid() -> _Model | None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([code for code in LANGUAGES if code in ident.nb_classes])
    if not hasattr(ident, "tk_row") or not isinstance(ident.tk_output, list):
        return None  # py3langid < 0.4 keeps another automaton layout: score text by text instead
    rowbase = np.asarray(ident.tk_row, dtype=np.int64) << 8
    output = np.append(np.asarray(ident.tk_output, dtype=np.int32), np.int32(-1))
    return _Model(np.asarray(ident.tk_nextmove, dtype=np.uint32), rowbase, output,
                  np.asarray(ident.nb_ptc), np.asarray(ident.nb_pc, dtype=np.float32),
                  tuple(ident.nb_classes))


def _read_cache(path: Path) -> _Model | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            m = _Model(z["nextmove"], z["rowbase"], z["output"], z["ptc"], z["pc"],
                       tuple(str(c) for c in z["classes"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        logger.info("language model cache %s unreadable (%s); rebuilding it", path, exc)
        return None
    if not (len(m.rowbase) + 1 == len(m.output) and m.ptc.shape[1] == len(m.pc) == len(m.classes)
            and m.nextmove.size % 256 == 0):
        logger.info("language model cache %s is inconsistent; rebuilding it", path)
        return None
    return m


def _write_cache(path: Path, m: _Model) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            np.savez(fh, nextmove=m.nextmove, rowbase=m.rowbase, output=m.output,
                     ptc=m.ptc, pc=m.pc, classes=np.array(m.classes))
        os.replace(tmp, path)
    except OSError as exc:
        logger.info("cannot cache the language model in %s: %s", path, exc)
    finally:
        tmp.unlink(missing_ok=True)


_LOADING = threading.RLock()


def _once(load: Callable[[], T]) -> Callable[[], T]:
    """Cache a loader's result like lru_cache, but never run it in two threads at once: the CLI
    classifies two chunks side by side, and both would decode (and write) the model."""
    cached = lru_cache(maxsize=1)(load)

    @wraps(load)
    def get() -> T:
        with _LOADING:
            return cached()

    get.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return get


@_once
def _model() -> _Model | None:
    path = _cache_file()
    if path is not None and path.is_file():
        cached = _read_cache(path)
        if cached is not None:
            return cached
    built = _from_py3langid()
    if built is not None and path is not None:
        _write_cache(path, built)
    return built


@_once
def _identifier():  # type: ignore[no-untyped-def]
    """py3langid's own scorer, for a few texts (its Python walk beats NumPy's per-step overhead
    there) and for versions whose model layout `_Model` does not read."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    m = _model()
    if m is not None:
        try:  # from the cached arrays: no second decode of the model file
            return LanguageIdentifier(m.ptc, m.pc, list(m.classes), array("I", m.nextmove.tobytes()),
                                      m.output[:-1].tolist(), norm_probs=True,
                                      tk_row=(m.rowbase >> 8).tolist())
        except TypeError:
            logger.debug("py3langid's LanguageIdentifier changed; loading its model file")
    # our own instance: set_languages on the package's shared one would change it for everyone
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([code for code in LANGUAGES if code in ident.nb_classes])
    return ident


def _feature_counts(m: _Model, encoded: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the automaton over every text at once. Returns (text index, feature, count) for each
    feature a text emits, grouped by text and, within a text, in order of first appearance: the
    order py3langid's Counter sums them in, so the float32 sums come out bit for bit the same."""
    n = len(encoded)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")  # longest first: the texts still walking are a prefix
    lens = lengths[order]
    width = int(lens[0]) if n else 0
    if width == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = np.frombuffer(b"".join(encoded[i] for i in order), dtype=np.uint8)
    starts = np.cumsum(lens) - lens
    cols = np.repeat(np.arange(n), lens)
    data = np.zeros((width, n), dtype=np.int64)  # data[p, j]: byte p of the j-th longest text
    data[np.arange(len(flat)) - np.repeat(starts, lens), cols] = flat
    # states[j, p]: the state after byte p; padding points at output's trailing -1
    states = np.full((n, width), len(m.output) - 1, dtype=np.int64)
    walking = np.searchsorted(-lens, -np.arange(width), side="left")  # how many texts are longer than p
    state = np.zeros(n, dtype=np.int64)
    rowbase, nextmove = m.rowbase, m.nextmove
    for p in range(width):
        k = walking[p]
        state[:k] = nextmove[rowbase[state[:k]] + data[p, :k]]
        states[:k, p] = state[:k]
    feats = m.output[states]
    col, pos = np.nonzero(feats >= 0)  # row-major: text by text, in byte order
    keys = order[col] * len(m.ptc) + feats[col, pos]
    uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
    seen = np.argsort(first)
    uniq, counts = uniq[seen], counts[seen]
    return uniq // len(m.ptc), uniq % len(m.ptc), counts


def _probabilities(m: _Model, encoded: Sequence[bytes]) -> np.ndarray:
    """(texts, classes) float32: py3langid's normalised probabilities (`norm_probs=True`)."""
    text, feat, counts = _feature_counts(m, encoded)
    scores = np.zeros((len(encoded), len(m.classes)), dtype=np.float32)
    weights = np.log1p(counts.astype(np.float32))
    bounds = np.flatnonzero(np.r_[True, text[1:] != text[:-1], True]).tolist() if len(text) else [0]
    # one small product per text, as py3langid does: a batched gather-and-sum over all pairs was
    # slower (it materialises pairs x classes) and adds in another order
    for a, b in zip(bounds, bounds[1:]):
        scores[text[a]] = weights[a:b] @ m.ptc[feat[a:b]] + m.pc
    # a text with no features keeps all-zero scores: uniform after the softmax, so no answer
    inv = np.array([1.0 / math.sqrt(len(b) or 1) for b in encoded], dtype=np.float32)
    scores *= inv[:, None]  # py3langid's temperature: sqrt(bytes) keeps long texts calibrated
    np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    for i, j in m.alias_pairs:
        scores[:, i] += scores[:, j]
        scores[:, j] = 0.0
    return scores


def _clean(text: str) -> str | None:
    """The text the detector sees, or None when it has fewer than two letters (emoji, numbers)."""
    cleaned = _NOISE.sub(" ", text or "")[:MAX_CHARS]
    return cleaned if _TWO_LETTERS.search(cleaned) else None


def prepare() -> None:
    """Decode (and cache) the model now, as part of a first-use build, rather than on the first
    detection."""
    _model()


def detect_many(texts: Sequence[str]) -> list[str | None]:
    """ISO 639-1 code per text, or None when a text gives too little to judge (empty, emoji-only,
    numbers, or a word or two the detector is unsure about)."""
    out: list[str | None] = [None] * len(texts)
    todo = [(k, c) for k, c in enumerate(_clean(t) if isinstance(t, str) else None for t in texts)
            if c is not None]
    m = _model() if len(todo) >= FEW else None
    if m is None:
        for k, cleaned in todo:
            lang, prob = _identifier().classify(cleaned)
            out[k] = str(lang) if prob >= MIN_CONFIDENCE else None
        return out
    from py3langid.langid import LanguageIdentifier

    encode = LanguageIdentifier._encode  # the bytes py3langid scores: all-caps lowered, NFC, UTF-8
    for lo in range(0, len(todo), CHUNK):
        part = todo[lo:lo + CHUNK]
        probs = _probabilities(m, [encode(c) for _, c in part])
        best = probs.argmax(axis=1)
        conf = probs[np.arange(len(part)), best]
        for (k, _), b, p in zip(part, best.tolist(), conf.tolist()):
            out[k] = m.classes[b] if p >= MIN_CONFIDENCE else None
    return out


def detect(text: str) -> str | None:
    """`detect_many` for one text."""
    return detect_many([text])[0]
