"""Fixtures for the classifier tests: the shipped model built once per session into a temp cache."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach a model hub from tests
os.environ["TRANSFORMERS_OFFLINE"] = "1"

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("careline-model-cache")


@pytest.fixture(scope="session")
def build_seconds(model_cache: Path) -> float:
    """Build the ONNX models from the package weights + shipped delta, as on first use."""
    from classify.minilm import CarelineMiniLM

    t0 = time.perf_counter()
    CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache)
    return time.perf_counter() - t0


@pytest.fixture(scope="session")
def int8(model_cache: Path, build_seconds: float):  # type: ignore[no-untyped-def]
    from classify.minilm import CarelineMiniLM

    return CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache)


@pytest.fixture(scope="session")
def fp32(model_cache: Path, build_seconds: float):  # type: ignore[no-untyped-def]
    from classify.minilm import CarelineMiniLM

    return CarelineMiniLM(backend="onnx-fp32", cache_dir=model_cache, detect_language=False)


@pytest.fixture
def data_dir() -> Path:
    if not (DATA / "tweeteval-sentiment-val").is_dir():
        pytest.skip(f"needs the labelled data sets in {DATA} (shared/data beside the checkout)")
    return DATA
