"""`careline classify --all` relabels stored mentions with the current model (resumable, corrections kept,
embeddings replaced); `careline train` never writes over the shipped model unless told to."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from careline.cli import app
from careline.models import Mention, MentionEmbedding
from careline.services import classification
from careline.services.ingest import ingest
from careline.services.reclassify import count_stale, reclassify
from classify.base import Labels
from tests.conftest import make_raw


class Model:
    """A stand-in model of a given version: 'negative complaint' for everything, with an embedding."""

    def __init__(self, version: str, sentiment: str = "negative") -> None:
        self.version, self.sentiment, self.calls = version, sentiment, 0

    def classify(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        vec = np.ones(384, dtype=np.float32) / np.sqrt(384)
        return [Labels(self.sentiment, "complaint", {self.sentiment: 0.9}, {"complaint": 0.9}, "en", vec) for _ in texts]


def test_reclassify_relabels_resumably_and_keeps_corrections(any_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(any_engine, expire_on_commit=False) as s:
        ingest(s, [make_raw(external_id=f"r{i}") for i in range(7)])
        rows = list(s.exec(select(Mention).order_by(Mention.id)))
        classification.apply_labels(s, rows, Model("old-1", "positive").classify([m.text for m in rows]), "old-1", 0.5)
        s.commit()
        classification.correct(s, rows[0].id, "kim", sentiment="neutral")  # a person's label stays
        new = Model("new-2")
        assert count_stale(s, "new-2") == 7
        seen: list[int] = []
        # interrupted after 4 (the limit stands for Ctrl-C between batches): what was done is kept
        assert reclassify(s, new, batch_size=2, limit=4, progress=seen.append) == 4 and sum(seen) == 4
        assert count_stale(s, "new-2") == 3
        assert reclassify(s, new, batch_size=2) == 3  # run again: carries on, never redoes a batch
        assert reclassify(s, new) == 0 and count_stale(s, "new-2") == 0
        s.expire_all()
        rows = list(s.exec(select(Mention).order_by(Mention.id)))
        assert {(m.model_version, m.sentiment) for m in rows} == {("new-2", "negative")}
        assert rows[0].corrected_sentiment == "neutral"
        assert len(list(s.exec(select(MentionEmbedding)))) == 7  # embeddings written with the new labels


def test_classify_all_cli(cli_env) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    from careline.db import get_engine
    from careline.settings import get_settings

    with Session(get_engine(get_settings().url)) as s:
        ingest(s, [make_raw(external_id=f"c{i}") for i in range(3)])
    first = runner.invoke(app, ["classify", "--all"])
    assert first.exit_code == 0, first.output
    assert "Re-classified 3 mention(s)" in first.output
    again = runner.invoke(app, ["classify", "--reclassify"])
    assert again.exit_code == 0 and "already labelled by" in again.output


def test_train_never_overwrites_the_shipped_model(tmp_path: Path) -> None:
    from careline.commands.classify_cmds import training_target

    shipped = tmp_path / "shipped"
    default = training_target(tmp_path, None, False, shipped)
    assert default != shipped and default.parent == tmp_path / "models" and default.name.startswith("careline-minilm-")
    assert training_target(tmp_path, None, True, shipped) == shipped  # only with --replace
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "model.onnx").write_text("x")
    with pytest.raises(typer.Exit):
        training_target(tmp_path, taken, False, shipped)
    assert training_target(tmp_path, taken, True, shipped) == taken
    assert training_target(tmp_path, tmp_path / "fresh", False, shipped) == tmp_path / "fresh"


def test_train_cli_refuses_an_existing_model_folder(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "model.onnx").write_text("x")
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "data"), "--output", str(taken)])
    assert result.exit_code == 2 and "--replace" in result.output
    assert (taken / "model.onnx").read_text() == "x"
