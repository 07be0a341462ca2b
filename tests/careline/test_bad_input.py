"""Bad input at the terminal: every bad line of a `careline classify --input` file is reported by number
and skipped, the rest is written; a setting that is not JSON gets one sentence (comma lists are accepted)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careline.cli import app
from careline.errors import ConfigError, InvalidInput
from careline.settings import load_settings
from classify import files


def _classify(src: Path, tmp_path: Path) -> tuple[list[dict], str]:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["classify", "--input", str(src), "--output", str(out), "--model", "lexicon"])
    assert result.exit_code == 0, result.output
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()], result.output


def test_jsonl_lone_surrogate_costs_only_its_line(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "posts.jsonl"
    src.write_text('{"text": "love it", "id": "a"}\n{"text": "bad \\ud800 text"}\n{"text": "awful", "id": "\\udc80"}\n'
                   '{"text": "fine"}\n[1, 2]\n', encoding="utf-8")
    rows, output = _classify(src, tmp_path)
    assert [r["line"] for r in rows] == [1, 3, 4]  # 3's id had a surrogate: replaced, the post kept
    assert "posts.jsonl:2: skipped" in output and "lone surrogate" in output and "posts.jsonl:5: skipped" in output


def test_csv_huge_field_and_unterminated_quote_cost_only_their_lines(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "posts.csv"
    big = "x" * (200 * 1024)  # over csv's 128 KiB field limit, under ours
    huge = "y" * (files.MAX_TEXT + 5)
    src.write_text(f'id,text\n1,ok one\n2,"{big}"\n3,"{huge}"\n4,"never closed\n5,after the bad quote\n'
                   f'6,"multi\nline post"\n7,last\n', encoding="utf-8")
    rows, output = _classify(src, tmp_path)
    assert [r["id"] for r in rows] == ["1", "2", "5", "6", "7"]  # 5 is not swallowed by 4's open quote
    assert [r["line"] for r in rows] == [2, 3, 6, 7, 9]
    assert "posts.csv:4: skipped" in output and "limit" in output
    assert "posts.csv:5: skipped" in output  # the stray quote: reported on its own line


def test_csv_without_a_text_column_fails_in_one_sentence(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "posts.csv"
    src.write_text("id,score\n1,5\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", "--input", str(src), "--model", "lexicon"])
    # a CarelineError: `careline`'s entry point prints it as one sentence and exits 1
    assert result.exit_code != 0 and isinstance(result.exception, InvalidInput)
    with pytest.raises(files.NoTextColumn, match="no text column"):
        list(files.read_records(src, []))


def test_list_settings_accept_comma_lists_and_refuse_other_non_json(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARELINE_SOURCES", "demo, hackernews")
    assert load_settings().sources == ["demo", "hackernews"]
    monkeypatch.setenv("CARELINE_SOURCES", "x,reddit,nope")
    with pytest.raises(ConfigError, match="CARELINE_SOURCES: unknown source 'nope'"):
        load_settings()
    monkeypatch.setenv("CARELINE_SOURCES", '["demo"]')
    monkeypatch.setenv("CARELINE_BRANDS", "acme")  # a list of objects: only JSON will do
    with pytest.raises(ConfigError, match="CARELINE_BRANDS: it must be JSON"):
        load_settings()


def test_cli_says_one_sentence_for_a_bad_list_setting(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CARELINE_BRANDS", "{not json")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert "CARELINE_BRANDS" in str(result.exception)
