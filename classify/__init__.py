"""Classifiers: `load_classifier(name)` returns something that implements `classify.base.Classifier`.

Names: "careline-minilm" (the shipped model, ONNX int8), "careline-minilm@onnx-fp32" and
"careline-minilm@torch" (other backends of the same model), "lexicon" (keyword placeholder, no
model), a directory holding a careline-minilm artefact (config.json + delta.safetensors, as written by
`careline train --output DIR`), or any Hugging Face text-classification model id or directory."""
from __future__ import annotations

import logging
from pathlib import Path

from classify.base import INTENTS, SENTIMENTS, Classifier, Labels, ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "careline-minilm"


def load_classifier(name: str = DEFAULT_MODEL, *, label_map: dict[str, str] | None = None,
                    device: str | None = None, cache_dir: Path | None = None) -> Classifier:
    """Load a classifier by name; every failure is a ModelError whose message says what to fix.
    `device` applies to PyTorch backends ("cpu", "cuda"); the ONNX path always runs on the CPU."""
    name = (name or DEFAULT_MODEL).strip()
    if name == "lexicon":
        from classify.lexicon import LexiconClassifier

        return LexiconClassifier()
    base, _, backend = name.partition("@")
    if base == DEFAULT_MODEL or _is_careline_artifact(Path(base).expanduser()):
        from classify.artifact import DEFAULT_DIR
        from classify.minilm import CarelineMiniLM

        directory = DEFAULT_DIR if base == DEFAULT_MODEL else Path(base).expanduser()
        if not backend and device not in (None, "cpu"):
            backend = "torch"  # ONNX runs on the CPU; a GPU means the PyTorch backend
        return CarelineMiniLM(directory, backend=backend or "onnx-int8", cache_dir=cache_dir, device=device)
    from classify.hf import HFClassifier

    return HFClassifier(name, label_map=label_map, device=device)


def _is_careline_artifact(path: Path) -> bool:
    """A folder written by `careline train --output` (it has a delta, or a config naming the base)."""
    if (path / "delta.safetensors").is_file():
        return True
    try:
        import json

        return "base_package" in json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


__all__ = ["DEFAULT_MODEL", "INTENTS", "SENTIMENTS", "Classifier", "Labels", "ModelError", "load_classifier"]
