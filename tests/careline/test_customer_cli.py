"""`careline customer`: list, suggest, accept, show, undo, export, erase from the terminal."""
from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session
from typer.testing import CliRunner

from careline.cli import app
from careline.db import get_engine
from careline.services.ingest import ingest
from careline.settings import get_settings
from tests.conftest import make_raw


def test_customer_commands_end_to_end(cli_env: Path) -> None:
    run = CliRunner()
    assert run.invoke(app, ["init"]).exit_code == 0
    with Session(get_engine(get_settings().url)) as s:
        ingest(s, [make_raw(platform="x", author_handle="kit", author_name="Kit [bold]K[/bold]", text="lost bag [red]x[/red]"),
                   make_raw(platform="reddit", author_handle="kit", author_name="Kit [bold]K[/bold]", text="still lost")])
    out = run.invoke(app, ["customer", "suggest"])
    assert out.exit_code == 0, out.output
    assert "1 new" in out.output
    listed = run.invoke(app, ["customer", "suggestions"])
    assert "same handle and display name" in listed.output
    assert run.invoke(app, ["customer", "accept", "1", "--as", "kim"]).exit_code == 0
    shown = run.invoke(app, ["customer", "list", "kit"])
    assert shown.output.count("Kit [bold]K[/bold]") == 1  # one customer now, its name shown as typed
    cid = shown.output.split("│")[1].strip() if "│" in shown.output else "1"
    show = run.invoke(app, ["customer", "show", cid])
    assert "lost bag [red]x[/red]" in show.output and "still lost" in show.output
    assert run.invoke(app, ["customer", "undo", "1"]).exit_code == 0
    exported = run.invoke(app, ["customer", "export", cid, "--out", str(cli_env / "c.json")])
    assert exported.exit_code == 0 and json.loads((cli_env / "c.json").read_text())["mentions"]
    erased = run.invoke(app, ["customer", "erase", cid, "--yes"])
    assert erased.exit_code == 0 and "erased" in erased.output
    assert "1" in run.invoke(app, ["customer", "erased"]).output
    bad = run.invoke(app, ["customer", "auto-merge", "nonsense"])
    assert bad.exit_code != 0
