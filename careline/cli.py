"""The `careline` command. Each command is short: it parses options and calls services or jobs.

Failures print one sentence; `--verbose` adds the traceback, and the log (var/careline.log) has it too.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from sqlalchemy.exc import DBAPIError

from careline.console import console, progress, setup_logging
from careline.errors import CarelineError

log = logging.getLogger(__name__)
app = typer.Typer(help="Careline: collect, classify, triage and answer brand mentions.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
_state = {"verbose": False}
DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show details and tracebacks.")] = False) -> None:
    _state["verbose"] = verbose


def _settings():  # type: ignore[no-untyped-def]
    from careline.settings import get_settings

    s = get_settings()
    setup_logging(s.data_dir, _state["verbose"])
    return s


def _engine(settings):  # type: ignore[no-untyped-def]
    from careline.db import get_engine

    return get_engine(settings.url)


@app.command()
def init(
    admin_password: Annotated[Optional[str], typer.Option(help="Create/refresh user 'admin' with this password.", envvar="CARELINE_ADMIN_PASSWORD")] = None,
) -> None:
    """Create or upgrade the database schema (Alembic) and load the brands from settings."""
    from sqlmodel import Session

    from careline.db import migrate
    from careline.services import brands, users

    settings = _settings()
    engine = _engine(settings)
    migrate(engine)
    with Session(engine) as session:
        created = brands.sync_from_settings(session, settings.brands)
        if admin_password:
            users.create_user(session, "admin", admin_password, role="admin")
    console.print(f"Database ready at [bold]{_redact_url(settings.url)}[/] with {len(created)} brand(s).")


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
) -> None:
    """Load the offline demo (mentions, users, classification) into the database, then serve the dashboard."""
    from sqlmodel import Session

    from careline import jobs
    from careline.db import migrate
    from careline.services import app_settings, brands, users

    settings = _settings()
    engine = _engine(settings)
    migrate(engine)
    with Session(engine) as session:
        brands.sync_from_settings(session, settings.brands)
        if app_settings.get(session, "demo_anchor") is None:
            app_settings.put(session, "demo_anchor", datetime.now(timezone.utc).replace(microsecond=0).isoformat())
        existing = {u.username for u in users.list_users(session)}
        for name, role in (("admin", "admin"), ("agent", "agent"), ("viewer", "viewer")):
            if name not in existing:
                users.create_user(session, name, f"careline-{name}", role=role, display_name=name.title())
    from careline.factory import build_source
    from careline.services.collection import collect as run_collect

    summary = run_collect(engine, build_source("demo", settings, demo_anchor=jobs.demo_anchor(engine)), max_pages=100)
    new = summary.new
    _classify_db(settings, engine, fallback=True)
    _export_demo_week(settings)
    console.print(f"Demo loaded: {new} new mention(s). Sign in as admin / careline-admin "
                  "(also agent / careline-agent, viewer / careline-viewer).")
    if serve_after:
        serve(port=port, scheduler=True, headless=True)


def _export_demo_week(settings) -> None:  # type: ignore[no-untyped-def]
    try:
        from careline.reports.weekly import export_last_week
    except ImportError:
        return
    try:
        paths = export_last_week(settings)
        if paths:
            console.print(f"Last week's report: {Path(paths[0]).parent}")
    except CarelineError as exc:
        console.print(f"[yellow]Weekly export skipped:[/] {exc}")
    from careline.reports.alerts import run_checks

    result = run_checks(settings)  # the demo's built-in spike shows up in the dashboard right away
    if result.new:
        console.print(f"{len(result.new)} alert(s) raised, e.g. {result.new[0].message}")


def _classify_db(settings, engine, limit: int | None = None, fallback: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Classify unclassified mentions (at most `limit`) with a progress bar; returns how many."""
    from sqlmodel import Session

    from careline.errors import ConfigError
    from careline.factory import build_classifier
    from careline.services.classification import classify_pending, count_pending

    with Session(engine) as session:
        pending = count_pending(session)
    if limit is not None:
        pending = min(pending, limit)
    if not pending:
        return 0
    try:
        classifier = build_classifier(settings)
    except ConfigError as exc:
        if not fallback:
            raise
        console.print(f"[yellow]{exc} Falling back to the placeholder keyword classifier for the demo.[/]")
        classifier = build_classifier(settings.model_copy(update={"model": "lexicon", "model_label_map": {}}))
    if classifier.version.startswith("placeholder"):
        console.print("[yellow]Using the placeholder keyword classifier, not the trained model.[/]")
    with progress("Classifying", pending) as advance, Session(engine, expire_on_commit=False) as session:
        return classify_pending(session, classifier, batch_size=settings.classify_batch_size, limit=limit,
                                low_confidence=settings.low_confidence, progress=advance)


@app.command()
def collect(
    once: Annotated[bool, typer.Option("--once", help="Run every enabled source once and exit.")] = True,
    source: Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only this source (repeatable).")] = None,
    max_pages: Annotated[int, typer.Option(help="Pages per query per run (backfill with more).")] = 10,
) -> None:
    """Collect new mentions from the enabled sources (CARELINE_SOURCES), then classify them."""
    from careline import jobs
    from careline.factory import build_source
    from careline.services.collection import collect as run_collect

    settings = _settings()
    engine = _engine(settings)
    names = source or settings.sources
    failed = False
    for name in names:
        src = build_source(name, settings, demo_anchor=jobs.demo_anchor(engine))
        summary = run_collect(engine, src, max_pages=max_pages)
        console.print(f"{name}: {summary.seen} seen, {summary.new} new, {summary.skipped} skipped, "
                      f"{summary.api_calls} API call(s)")
        for err in summary.errors:
            failed = True
            console.print(f"[red]{name}:[/] {err}")
    _classify_db(settings, engine)
    if failed:
        raise typer.Exit(1)


@app.command("classify")
def classify_cmd(
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="JSONL, CSV or text file (one post per line). Without it: classify unclassified mentions in the database.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write JSONL labels (default: stdout).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model name or path (default: CARELINE_MODEL).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Classify at most this many database mentions.")] = None,
) -> None:
    """Tag sentiment and intent: a file of posts, or every unclassified mention in the database."""
    settings = _settings()
    if model:
        settings = settings.model_copy(update={"model": model})
    if input is not None:
        from careline.commands.classify_cmds import classify_file_cmd

        classify_file_cmd(input=input, output=output, model=settings.model)
        return
    done = _classify_db(settings, _engine(settings), limit)
    console.print(f"Classified {done} mention(s).")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
    scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler", help="Run the scheduler in this process too.")] = True,
    headless: Annotated[bool, typer.Option(help="Don't open a browser.")] = True,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the Streamlit dashboard on localhost (and the scheduler beside it)."""
    settings = _settings()
    stop = threading.Event()
    background = None
    if scheduler:
        # The same worker a separate `careline worker` runs: leader-elected schedule + queue consumers.
        from careline.workers import ROLES, run_worker

        background = threading.Thread(target=run_worker, args=(settings, _engine(settings), set(ROLES), stop),
                                      name="careline-worker", daemon=True)
        background.start()
    cmd = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD), "--server.port", str(port),
           "--server.address", address, "--server.headless", "true" if headless else "false",
           "--browser.gatherUsageStats", "false", "--theme.base", "light",
           # no "Deploy" button or developer menu for the people triaging mentions
           "--client.toolbarMode", "viewer"]
    console.print(f"Careline dashboard: [bold]http://{address if address != '0.0.0.0' else 'localhost'}:{port}[/]")
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
    finally:
        stop.set()
        if background is not None:
            background.join(timeout=10)


@app.command()
def worker(
    role: Annotated[str, typer.Option(help="Comma-separated: collect, classify, send, report, or all.")] = "all",
) -> None:
    """Run background work without the dashboard. Start any number against one PostgreSQL database:
    classification and sending are shared work queues, and one elected leader runs the schedule."""
    from careline.workers import parse_roles, run_worker

    settings = _settings()
    roles = parse_roles(role)
    console.print(f"Worker running ({', '.join(sorted(roles))}); Ctrl-C stops it.")
    run_worker(settings, _engine(settings), roles)


@app.command()
def status() -> None:
    """Show mention counts, classification backlog, outbox and each source's health."""
    from rich.table import Table
    from sqlmodel import Session

    from careline.services import stats

    settings = _settings()
    engine = _engine(settings)
    with Session(engine) as session:
        info = stats.overview(session)
    console.print(f"Database: {_redact_url(settings.url)}")
    for key, value in info["counts"].items():
        console.print(f"  {key}: {value}")
    table = Table("source", "query", "healthy", "cursor", "paused until", "last error")
    for st in info["sources"]:
        table.add_row(st.source, st.query_key, "yes" if st.healthy else "NO", (st.cursor or "")[:24],
                      str(st.paused_until or ""), (st.last_error or "")[:60])
    console.print(table)


def _register_optional() -> None:
    """Commands that live in their own modules (one per area)."""
    registrations = [
        ("careline.commands.classify_cmds", [("train", "train_cmd"), ("evaluate", "evaluate_cmd")]),
        ("careline.commands.reply_cmds", [("reply", "reply_cmd"), ("outbox", "outbox_cmd")]),
        ("careline.commands.report_cmds", [("export", "export_cmd"), ("alerts", "alerts_cmd")]),
        ("careline.commands.user_cmds", [("user", "user_cmd")]),
        ("careline.commands.source_cmds", [("backfill", "backfill_cmd"), ("sources", "sources_cmd")]),
    ]
    import importlib

    for module_name, commands in registrations:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, attr in commands:
            fn = getattr(module, attr, None)
            if fn is not None:
                app.command(name)(fn)


_register_optional()


def main() -> None:
    try:
        app(standalone_mode=False)
    except CarelineError as exc:
        console.print(f"[red]Error:[/] {exc}")
        if _state["verbose"]:
            console.print_exception()
        log.debug("command failed", exc_info=True)
        sys.exit(1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except DBAPIError as exc:
        from careline.db import describe_db_error

        console.print(f"[red]Error:[/] {describe_db_error(exc)}")
        log.debug("database failure", exc_info=True)
        if _state["verbose"]:
            console.print_exception()
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        console.print("Aborted.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one sentence, details in the log
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        console.print(f"[red]Error:[/] {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                      "(run with --verbose for details; see the log in the data directory).")
        logging.getLogger(__name__).error("unexpected failure", exc_info=True, extra={"file_only": True})
        if _state["verbose"]:
            console.print_exception()
        sys.exit(1)


if __name__ == "__main__":
    main()
