"""The multilingual late fusion (classify/fusion.py): a Spanish complaint through the shipped model,
English output untouched, the fusion switched on and off, and the loader's one-sentence errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classify.artifact import DEFAULT_DIR
from classify.base import ModelError
from classify.fusion import FUSION_FILE, CharNgramFusion, load, save
from classify.minilm import CarelineMiniLM

SPANISH = "Iberia me ha perdido la maleta otra vez, tres días esperando y nadie contesta. Qué vergüenza de servicio"
ENGLISH = ["Acme Air lost my bag and nobody at the desk can tell me where it is.",
           "Thanks Acme, smooth flight and a lovely crew!"]


@pytest.fixture(scope="module")
def plain(model_cache: Path, build_seconds: float) -> CarelineMiniLM:
    return CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache, fusion=False)


def test_a_spanish_complaint_is_blended_and_negative(int8: CarelineMiniLM, plain: CarelineMiniLM) -> None:
    (es,) = int8.classify([SPANISH])
    # still flagged: Spanish validation macro-F1 with the fusion is 55.8 fp32 but 54.7 int8 (MODEL_CARD.md)
    assert (es.language, es.sentiment, es.needs_review) == ("es", "negative", True)
    (before,) = plain.classify([SPANISH])
    # the blend moved the probabilities, by the shipped weight, towards the n-gram model's
    w = int8.fusion.blend["es"] if int8.fusion else 0.0
    ngram = int8.fusion.probabilities([SPANISH])[0] if int8.fusion else None
    assert 0 < w < 1 and ngram is not None and ngram.argmax() == 0
    expected = (1 - w) * np.array(list(before.sentiment_scores.values())) + w * ngram
    assert np.allclose(list(es.sentiment_scores.values()), expected, atol=2e-3)
    assert es.intent == before.intent  # the fusion touches sentiment only


def test_fusion_on_and_off(int8: CarelineMiniLM, plain: CarelineMiniLM, model_cache: Path) -> None:
    assert int8.fusion is not None and plain.fusion is None
    assert int8.version == "careline-minilm-3+ml1+onnx-int8" and plain.version == "careline-minilm-3+onnx-int8"
    assert set(int8.fusion.languages) == {"ar", "de", "es", "fr", "it", "pt"}  # never English
    # English keeps the transformer's output exactly
    on, off = int8.classify(ENGLISH), plain.classify(ENGLISH)
    assert [x.sentiment_scores for x in on] == [x.sentiment_scores for x in off]
    assert [x.language for x in on] == ["en", "en"]
    # without language detection there is nothing to key the blend on, so no fusion and no +ml1
    blind = CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache, detect_language=False)
    assert blind.fusion is None and blind.version == "careline-minilm-3+onnx-int8"


def test_apply_leaves_other_rows_bit_for_bit() -> None:
    model = CharNgramFusion("t1", np.zeros((3, 2 ** 4), np.float16), np.array([2.0, 0.0, 0.0], np.float32),
                            {"es": 0.5, "en": 0.0}, {"analyzer": "crc32-char_wb", "ngram_min": 2, "ngram_max": 3, "bits": 4})
    s = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], np.float32)
    out = model.apply(["hola", "hello", "hallo"], ["es", "en", None], s)
    assert np.array_equal(out[1:], s[1:]) and out[0, 0] > s[0, 0]
    assert np.isclose(out[0].sum(), 1.0)
    assert np.array_equal(model.apply(["a"], ["en"], s[:1]), s[:1])


def test_save_load_round_trip_keeps_a_fortran_ordered_matrix(tmp_path: Path) -> None:
    weights = np.asfortranarray(np.arange(3 * 16, dtype=np.float16).reshape(3, 16))  # as scikit-learn may hand it
    model = CharNgramFusion("t1", weights, np.zeros(3, np.float32), {"es": 0.4},
                            {"analyzer": "crc32-char_wb", "ngram_min": 2, "ngram_max": 5, "bits": 4})
    save(tmp_path / "f.safetensors", model)
    back = load(tmp_path / "f.safetensors")
    assert np.array_equal(back.weights, weights) and back.blend == {"es": 0.4} and back.version == "t1"


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def _one_sentence(message: str) -> bool:
    return message.count(". ") == 0 and "\n" not in message


def test_missing_fusion_file_is_one_clear_sentence(artifact: Path, model_cache: Path) -> None:
    (artifact / FUSION_FILE).unlink()
    with pytest.raises(ModelError, match="multilingual fusion model missing") as err:
        CarelineMiniLM(artifact, cache_dir=model_cache)
    assert str(artifact / FUSION_FILE) in str(err.value) and _one_sentence(str(err.value))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong shape"])
def test_corrupt_fusion_file_is_one_clear_sentence(artifact: Path, model_cache: Path, damage: str) -> None:
    path = artifact / FUSION_FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "garbage":
        path.write_bytes(b"not a safetensors file")
    else:
        save(path, CharNgramFusion("ml1", np.zeros((3, 8), np.float16), np.zeros(3, np.float32), {"es": 0.5},
                                   {"analyzer": "crc32-char_wb", "ngram_min": 2, "ngram_max": 5, "bits": 18}))
    with pytest.raises(ModelError, match="multilingual fusion model .* is corrupt") as err:
        CarelineMiniLM(artifact, cache_dir=model_cache)
    assert _one_sentence(str(err.value))


def test_an_artifact_without_fusion_loads_as_before(artifact: Path, tmp_path: Path) -> None:
    cfg = json.loads((artifact / "config.json").read_text())
    del cfg["fusion"]
    (artifact / "config.json").write_text(json.dumps(cfg))
    (artifact / FUSION_FILE).unlink()
    clf = CarelineMiniLM(artifact, cache_dir=tmp_path / "cache")  # its own cache: the config differs, so a new build
    assert clf.fusion is None and clf.version == "careline-minilm-3+onnx-int8"
