"""`careline search`: the same syntax as the inbox, as JSON for scripts or a plain-text table."""
from __future__ import annotations

import json

from sqlmodel import Session
from typer.testing import CliRunner

from careline.cli import app
from careline.db import get_engine, migrate
from careline.services.ingest import ingest
from careline.settings import get_settings
from tests.conftest import make_raw

runner = CliRunner()


def _seed() -> None:
    engine = get_engine(get_settings().url)
    migrate(engine)
    with Session(engine) as s:
        ingest(s, [make_raw(author_handle="sam_12", text="Acme Air, where is my lost bag? [red]x[/red]"),
                   make_raw(author_handle="kate_1", text="Refund arrived, thanks"),
                   make_raw(author_handle="leo_7", text="my bag was lost")])


def test_json_output_with_phrase_total_and_snippet(cli_env) -> None:  # type: ignore[no-untyped-def]
    _seed()
    result = runner.invoke(app, ["search", '"lost bag"', "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 1 and data["results"][0]["author"] == "sam_12"
    assert "«lost bag»" in data["results"][0]["snippet"]


def test_table_output_is_plain_text_and_handles_are_found(cli_env) -> None:  # type: ignore[no-untyped-def]
    _seed()
    result = runner.invoke(app, ["search", "from:@SAM_12"])
    assert result.exit_code == 0, result.output
    assert "[red]x[/red]" in result.stdout and "1 found" in result.stdout  # markup shown, not obeyed


def test_bad_syntax_notes_and_huge_query_is_one_sentence(cli_env) -> None:  # type: ignore[no-untyped-def]
    _seed()
    result = runner.invoke(app, ["search", 'refund OR thanks', "-f", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["note"].startswith("OR is not an operator")
    huge = runner.invoke(app, ["search", "x" * 10_000])
    assert huge.exit_code != 0 and "at most 2,000 bytes" in str(huge.exception or huge.output)


def test_csv_export_by_query(cli_env) -> None:  # type: ignore[no-untyped-def]
    _seed()
    result = runner.invoke(app, ["search", "bag", "--format", "csv", "--order", "oldest"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("id,platform,brand") and len(lines) == 3
