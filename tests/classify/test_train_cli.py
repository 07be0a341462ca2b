"""`careline train` end to end on a toy copy of the data layout, on the CPU: plain, and with --distil
(a tiny random MPNet stands in for all-mpnet-base-v2), including the X-CI folds."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careline.cli import app
from classify.artifact import ArtifactConfig, base_model_dir
from classify.brand import read_labels
from classify.minilm import CarelineMiniLM
from classify.multilingual import LANGUAGES
from classify.recipe import SHIPPED

# a dozen optimiser steps of the real MiniLM on the CPU each: tens of seconds on two busy cores
pytestmark = pytest.mark.slow

WORDS = {0: "awful broken refund never again", 1: "the train leaves at noon today", 2: "love this great thanks"}


def toy_data(root: Path) -> Path:
    rng = random.Random(3)

    def tweet(label: int) -> str:
        return f"{WORDS[label]} {rng.randint(0, 10**6)}"

    names = ("negative", "neutral", "positive")
    (root / "semeval-sentiment").mkdir(parents=True)
    rows = [f"{i}\t{names[i % 3]}\t{tweet(i % 3)}" for i in range(90)]
    (root / "semeval-sentiment" / "twitter-2013train-A.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "tweeteval-sentiment-val").mkdir()
    (root / "tweeteval-sentiment-val" / "val_text.txt").write_text("\n".join(tweet(i % 3) for i in range(30)) + "\n")
    (root / "tweeteval-sentiment-val" / "val_labels.txt").write_text("\n".join(str(i % 3) for i in range(30)) + "\n")
    (root / "semeval-topic-sentiment").mkdir()
    (root / "semeval-topic-sentiment" / "twitter-2016train-BD.tsv").write_text(
        "\n".join(f"{i}\tacme\tpositive\tacme {tweet(2)}" for i in range(10)) + "\n", encoding="utf-8")
    (root / "complaints").mkdir()
    with (root / "complaints" / "x-ci-train.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tweet", "label", "sentiment"])
        for i in range(30):
            w.writerow([f"@acme {tweet(0 if i % 2 else 1)}", i % 2, "Negative" if i % 2 else "Neutral"])
    (root / "goemotions").mkdir()
    (root / "goemotions" / "labels.txt").write_text("admiration\nanger\ncuriosity\njoy\nneutral\n")
    for split, n in (("train", 40), ("dev", 15)):
        (root / "goemotions" / f"{split}.tsv").write_text(
            "\n".join(f"{tweet(i % 3)} why?\t{i % 5}\tid{i}" for i in range(n)) + "\n", encoding="utf-8")
    (root / "ibm-customer-care").mkdir()
    # every tweet of the brand sample's labels file, as the first turn of a conversation in dev.json
    first = [{"dialogContent": [{"client": "someone", "message": f"@acme where is my order {i}", "tweet_ID": tid}]}
             for i, (tid, _label, _split) in enumerate(read_labels())]
    (root / "ibm-customer-care" / "dev.json").write_text(json.dumps(first), encoding="utf-8")
    conv = [{"dialogContent": [{"client": {"message": "@acme where is my order test.json"}}]}]
    (root / "ibm-customer-care" / "test.json").write_text(json.dumps(conv), encoding="utf-8")
    (root / "multilingual-sentiment").mkdir()
    for name in LANGUAGES.values():
        for split, n in (("train", 12), ("val", 6)):
            (root / "multilingual-sentiment" / f"{name}_{split}_text.txt").write_text(
                "\n".join(f"{name} {tweet(i % 3)}" for i in range(n)) + "\n", encoding="utf-8")
            (root / "multilingual-sentiment" / f"{name}_{split}_labels.txt").write_text(
                "\n".join(str(i % 3) for i in range(n)) + "\n", encoding="utf-8")
    return root


def tiny_teacher(folder: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import MPNetConfig, MPNetModel

    config = MPNetConfig(vocab_size=30527, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=140, pad_token_id=1)
    folder.mkdir(parents=True)
    config.save_pretrained(folder)
    torch.manual_seed(0)
    state = MPNetModel(config, add_pooling_layer=False).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    # MiniLM's uncased WordPiece stands in for MPNet's (same family, ids within the toy vocabulary)
    (folder / "tokenizer.json").write_bytes((base_model_dir() / "tokenizer.json").read_bytes())


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARELINE_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CARELINE_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("CARELINE_DATA_DIR", str(tmp_path))
    return toy_data(tmp_path / "data")


def test_train_runs_the_shipped_recipe_and_reuses_finished_stages(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--data", str(toy), "--output", str(out), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "steps" in result.output and "Model written to" in result.output
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert [s["revision"] for s in metrics["stages"]] == [s.revision for s in SHIPPED]
    config = ArtifactConfig.load(out)
    # the last stage continued from the first one's artefact, kept in the cache, with the multilingual data
    assert config.revision == SHIPPED[-1].revision and config.emoji_words
    assert config.train["settings"]["init"].startswith(str(tmp_path / "cache" / "training" / "revision-2-"))
    assert config.train["settings"]["languages"] == "all" and "multilingual_val_macro_f1" in config.train["scores_at_training"]
    # the recipe's last step: the multilingual fusion, loaded with the model (its version carries +ml1)
    assert config.fusion["version"] == "ml1" and (out / "fusion.safetensors").is_file()
    labels = CarelineMiniLM(out, cache_dir=tmp_path / "onnx").classify(["love this", "awful"])
    assert [lab.sentiment in ("negative", "neutral", "positive") for lab in labels] == [True, True]
    # a second run with the same settings reuses the finished revision-2 stage and trains only the last
    [stage] = (tmp_path / "cache" / "training").glob("revision-2-*")
    written = (stage / "delta.safetensors").stat().st_mtime_ns
    again = CliRunner().invoke(app, ["train", "--data", str(toy), "--output", str(tmp_path / "m2"), "--epochs", "1"])
    assert again.exit_code == 0, again.output
    assert ArtifactConfig.load(tmp_path / "m2").train["settings"]["init"] == str(stage)
    assert (stage / "delta.safetensors").stat().st_mtime_ns == written
    assert not list((tmp_path / "cache" / "training").glob("checkpoint-*"))  # removed once each run finished


def test_train_init_runs_only_the_later_stages(toy: Path, tmp_path: Path) -> None:
    rev2 = tmp_path / "rev2"
    rev2.mkdir()
    ArtifactConfig(revision=2).save(rev2)
    done = tmp_path / "rev3"
    ArtifactConfig(revision=SHIPPED[-1].revision).save(done.mkdir() or done)
    result = CliRunner().invoke(app, ["train", "--data", str(toy), "--init", str(done), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no later stage" in result.output


def test_train_distil_runs_teachers_then_students_fold_by_fold(toy: Path, tmp_path: Path) -> None:
    tiny_teacher(tmp_path / "cache" / "teacher" / "all-mpnet-base-v2")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--data", str(toy), "--output", str(out), "--epochs", "1",
                                      "--distil", "--cv"])
    assert result.exit_code == 0, result.output
    soft = sorted(p.name for p in (tmp_path / "cache" / "teacher").glob("soft_*.npz"))
    assert soft == ["soft_fold0.npz", "soft_fold1.npz", "soft_fold2.npz", "soft_fold3.npz", "soft_fold4.npz",
                    "soft_full.npz"]
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert len(metrics["xci_cv_folds"]) == 5
    # the teachers feed the recipe's first stage (trained from the base encoder); the later stage continues from it
    first = Path(metrics["final_model"]["settings"]["init"])
    settings = ArtifactConfig.load(first).train["settings"]
    assert settings["teacher"].count(".npz") == 6 and settings["distill"] == 1.0 and settings["revision"] == 2
