"""`careline classify --input`: labels come out in input order across the chunks it pipelines."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import careline.commands.classify_cmds as cmds
from classify.base import Labels
from classify.lexicon import LexiconClassifier


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_order_ids_and_skips_survive_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmds, "CHUNK", 3)  # many chunks, so several are in flight at once
    rows: list[object] = []
    for n in range(20):
        rows.append({"id": f"t{n}", "text": f"great service, thanks {n}" if n % 2 else f"my order {n} is late"})
        if n == 7:
            rows += ["", "{not json", {"id": "x", "text": ""}]
    src, out = _write(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    done = cmds.classify_file_cmd(input=src, output=out, model="lexicon")
    labels = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert done == 20 and [r["id"] for r in labels] == [f"t{n}" for n in range(20)]
    assert [r["line"] for r in labels] == sorted(r["line"] for r in labels)
    expected = LexiconClassifier().classify([f"great service, thanks {n}" if n % 2 else f"my order {n} is late"
                                             for n in range(20)])
    assert [r["sentiment"] for r in labels] == [lab.sentiment for lab in expected]
    assert all(r["model"] == LexiconClassifier.version for r in labels)


class _Failing(LexiconClassifier):
    def classify(self, texts: list[str]) -> list[Labels]:  # type: ignore[override]
        if any("boom" in t for t in texts):
            raise RuntimeError("boom")
        return super().classify(texts)


def test_a_failing_chunk_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmds, "CHUNK", 2)
    monkeypatch.setattr("classify.load_classifier", lambda name, **_options: _Failing())
    src = _write(tmp_path / "in.txt", ["fine"] * 5 + ["boom"] + ["fine"] * 5)
    with pytest.raises(RuntimeError, match="boom"):
        cmds.classify_file_cmd(input=src, output=tmp_path / "out.jsonl", model="lexicon")
