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
                    device: str | None = None, cache_dir: Path | None = None,
                    language_models: dict[str, str] | None = None,
                    language_label_map: dict[str, str] | None = None) -> Classifier:
    """Load a classifier by name; every failure is a ModelError whose message says what to fix.
    `device` applies to PyTorch backends ("cpu", "cuda"); the ONNX path always runs on the CPU.
    `language_models` ({"es": "path-or-model-id"}) sends texts in those languages to those models
    (classify/routed.py), each read through `language_label_map`."""
    primary = _load_one(name, label_map=label_map, device=device, cache_dir=cache_dir)
    if not language_models:
        return primary
    from classify.routed import LanguageRouted

    others: dict[str, Classifier] = {}
    loaded: dict[str, Classifier] = {}
    for code, model in language_models.items():
        if model not in loaded:
            try:
                loaded[model] = _load_one(model, label_map=language_label_map, device=device, cache_dir=cache_dir)
            except ModelError as exc:
                raise ModelError(f"CARELINE_LANGUAGE_MODELS[{code!r}]: {exc}") from exc
        others[code] = loaded[model]
    return LanguageRouted(primary, others)


def _load_one(name: str, *, label_map: dict[str, str] | None, device: str | None,
              cache_dir: Path | None) -> Classifier:
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
