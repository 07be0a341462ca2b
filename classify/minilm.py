"""`careline-minilm`: the shipped multi-task MiniLM, served through ONNX Runtime int8 by default.

First use rebuilds the ONNX models from the package's base encoder plus the shipped delta into a cache
directory (about 10 s on 2 cores); later loads read the cached int8 graph only (no torch import)."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classify.artifact import (
    DEFAULT_DIR,
    DELTA_FILE,
    ArtifactConfig,
    base_model_dir,
    default_cache_dir,
    load_artifact,
)
from classify.base import INTENTS, SENTIMENTS, Labels, ModelError, language_reason
from classify.language import detect_many
from classify.language import prepare as prepare_language_model
from classify.text import preprocess
from classify.tokenize import Tokenizer

logger = logging.getLogger(__name__)

BACKENDS = ("onnx-int8", "onnx-fp32", "torch")


def _artifact_key(directory: Path) -> str:
    h = hashlib.sha256()
    for name in (DELTA_FILE, "config.json"):
        with (directory / name).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def bucket_batches(lengths: Sequence[int], max_batch: int = 16, max_tokens: int = 2048) -> list[list[int]]:
    """Indices grouped by similar length (sorted), each batch bounded in texts and in padded tokens:
    short posts share batches without padding to the one long post in the file."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        width = max(lengths[i], 1)  # sorted, so this text is the widest so far in `cur`
        if cur and (len(cur) >= max_batch or width * (len(cur) + 1) > max_tokens):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


class CarelineMiniLM:
    """Classifier protocol implementation; `backend` picks ONNX int8 (default), ONNX fp32 or PyTorch."""

    def __init__(self, artifact_dir: Path = DEFAULT_DIR, *, backend: str = "onnx-int8",
                 cache_dir: Path | None = None, max_batch: int = 16, detect_language: bool = True,
                 threads: int | None = None, device: str | None = None, fusion: bool = True) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.config = ArtifactConfig.load(artifact_dir)
        if not (artifact_dir / DELTA_FILE).is_file():
            raise ModelError(f"model weights missing: {artifact_dir / DELTA_FILE} (reinstall careline or run `careline train`)")
        base_dir = base_model_dir()
        self.tokenizer = Tokenizer(base_dir / "tokenizer.json", self.config.max_len)
        self.max_batch = max_batch
        self.detect_language = detect_language
        # the n-gram late fusion for non-English posts (classify/fusion.py), when the artefact has one;
        # it keys on the detected language, so it is off without language detection
        self.fusion = None
        if fusion and detect_language and self.config.fusion.get("file"):
            from classify.fusion import load as load_fusion

            self.fusion = load_fusion(artifact_dir / self.config.fusion["file"])
        if backend == "torch":
            from classify.onnx import TorchRunner

            self.runner = TorchRunner(load_artifact(artifact_dir)[1], base_dir, device or "cpu")
        else:
            self.runner = self._onnx_runner(artifact_dir, base_dir, backend, cache_dir or default_cache_dir(), threads)
        self.backend = backend
        # careline-minilm-3+ml1+onnx-int8 with the fusion, careline-minilm-3+onnx-int8 without it
        stem = self.config.version if self.fusion else f"{self.config.name}-{self.config.revision}"
        self.version = f"{stem}+{backend}"

    def _onnx_runner(self, artifact_dir: Path, base_dir: Path, backend: str, cache: Path,
                     threads: int | None):  # type: ignore[no-untyped-def]
        from classify.onnx import GRAPH_VERSION, OnnxRunner, build

        directory = cache / f"{self.config.name}-{self.config.revision}-{_artifact_key(artifact_dir)}-g{GRAPH_VERSION}"
        path = directory / ("model.int8.onnx" if backend == "onnx-int8" else "model.fp32.onnx")
        if not path.is_file():
            logger.info("building the %s model into %s (first use)", backend, directory)
            try:
                build(load_artifact(artifact_dir)[1], base_dir, directory)
            except OSError as exc:
                raise ModelError(f"cannot write the model cache {directory}: {exc}; "
                                 "set CARELINE_MODEL_CACHE to a writable folder") from exc
            if self.detect_language:
                prepare_language_model()  # its cache too, so the first classify run isn't the slow one
        try:
            return OnnxRunner(path, threads)
        except ModelError:
            # a damaged cache file is rebuilt once rather than failing forever
            logger.warning("cached model %s is unreadable; rebuilding it", path)
            build(load_artifact(artifact_dir)[1], base_dir, directory)
            return OnnxRunner(path, threads)

    def _start(self, texts: Sequence[str]) -> Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Tokenise and queue every batch; the returned function waits for and assembles the
        probabilities and embeddings. In between, the caller's thread is free (ONNX Runtime releases
        the GIL)."""
        ids = self.tokenizer.encode([preprocess(t or "", emoji_words=self.config.emoji_words) for t in texts])
        batches = bucket_batches([len(x) for x in ids], self.max_batch)
        results = self.runner.run_many(Tokenizer.pad([ids[i] for i in b]) for b in batches)

        def finish() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            s_out = np.zeros((len(ids), len(SENTIMENTS)), np.float32)
            i_out = np.zeros((len(ids), len(INTENTS)), np.float32)
            e_out: np.ndarray | None = None
            for batch, (s, i, e) in zip(batches, results):
                if e_out is None:
                    e_out = np.zeros((len(ids), e.shape[1]), np.float32)
                s_out[batch], i_out[batch], e_out[batch] = s, i, e
            return s_out, i_out, e_out if e_out is not None else np.zeros((0, 0), np.float32)

        return finish

    def predict_proba(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(sentiment probabilities, intent probabilities) in input order."""
        s, i, _ = self._start(texts)()
        return s, i

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings (n × 384, float32) in input order, from the same pass."""
        return self._start(texts)()[2]

    def classify(self, texts: Sequence[str]) -> list[Labels]:
        texts = [t if isinstance(t, str) else "" for t in texts]
        if not texts:
            return []
        finish = self._start(texts)
        languages = detect_many(texts) if self.detect_language else [None] * len(texts)
        s, i, e = finish()
        if self.fusion is not None:
            s = self.fusion.apply(texts, languages, s)
        out = []
        validated = self.config.validated_languages
        for k, language in enumerate(languages):
            reason = language_reason(language, validated)
            out.append(Labels(
                sentiment=SENTIMENTS[int(s[k].argmax())],
                intent=INTENTS[int(i[k].argmax())],
                sentiment_scores={n: round(float(p), 4) for n, p in zip(SENTIMENTS, s[k])},
                intent_scores={n: round(float(p), 4) for n, p in zip(INTENTS, i[k])},
                language=language,
                embedding=e[k],
                needs_review=reason is not None,
                review_reason=reason,
            ))
        return out
