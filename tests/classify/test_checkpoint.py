"""A training run stopped part-way carries on from its checkpoint and ends where an uninterrupted run
ends (same weights), on the CPU with the toy data of test_train_cli (slow: a few dozen toy steps)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import classify.train as train_mod
from classify.artifact import load_artifact
from classify.checkpoint import Checkpointer
from tests.classify.test_train_cli import toy_data

pytestmark = pytest.mark.slow


class Stopped(Exception):
    """Stands in for the session ending (a kill) right after a checkpoint."""


def test_a_stopped_run_resumes_to_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = toy_data(tmp_path / "data")
    settings = train_mod.TrainSettings(epochs=2, batch_size=16, xci_repeat=1, ema=0.9)
    whole = train_mod.train(data, tmp_path / "whole", settings, device="cpu")

    ckpt = tmp_path / "run.pt"
    save = Checkpointer.save
    calls: list[int] = []

    def save_then_stop(self: Checkpointer, *args: object) -> None:
        save(self, *args)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 3:  # in the second epoch: the first epoch's scores are in the checkpoint
            raise Stopped

    monkeypatch.setattr(Checkpointer, "save", save_then_stop)
    with pytest.raises(Stopped):
        train_mod.train(data, tmp_path / "resumed", settings, device="cpu", checkpoint=ckpt, checkpoint_every=4)
    assert ckpt.is_file() and not (tmp_path / "resumed").exists()
    monkeypatch.setattr(Checkpointer, "save", save)

    resumed = train_mod.train(data, tmp_path / "resumed", settings, device="cpu", checkpoint=ckpt, checkpoint_every=4)
    assert not ckpt.exists()  # removed once the run finished
    assert [h["epoch"] for h in resumed["history"]] == [h["epoch"] for h in whole["history"]]
    assert resumed["final"]["tweeteval_val_macro_recall"] == whole["final"]["tweeteval_val_macro_recall"]
    a, b = load_artifact(tmp_path / "whole")[1], load_artifact(tmp_path / "resumed")[1]
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=k)


def test_a_checkpoint_of_other_settings_is_not_used(tmp_path: Path) -> None:
    data = toy_data(tmp_path / "data")
    ckpt = tmp_path / "run.pt"
    settings = train_mod.TrainSettings(epochs=1, batch_size=16, xci_repeat=1, ema=0.9)
    saver = Checkpointer(ckpt, {"settings": "something else"})
    ckpt.write_bytes(b"not a checkpoint")
    assert saver.restore(None, None, None, []) is None  # type: ignore[arg-type]  # unreadable: start afresh
    result = train_mod.train(data, None, settings, device="cpu", checkpoint=ckpt, checkpoint_every=1000)
    assert result["history"][0]["epoch"] == 1 and not ckpt.exists()
