"""The `careline` command. Each command is short: it parses options and calls services or jobs.

Failures print one sentence; `--verbose` adds the traceback, and the log (var/careline.log) has it too.

Adding a command: write it in careline/commands/<area>_cmds.py as a function whose first parameter is
`ctx: typer.Context`; inside, `state = use(ctx)` (careline.commands.context) gives `state.settings`,
`state.engine` and `state.verbose` (logging is already set up by then). End the module with
`def register(app: typer.Typer) -> None: app.command("name")(name_cmd)` and add the module to COMMANDS
below. Command modules never import this module.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from sqlalchemy.exc import DBAPIError

from careline.commands import (
    care_cmds,
    classify_cmds,
    customer_cmds,
    reply_cmds,
    report_cmds,
    search_cmds,
    source_cmds,
    user_cmds,
)
from careline.commands.context import CliContext, use
from careline.console import console, progress
from careline.errors import CarelineError
from careline.settings import env_name

log = logging.getLogger(__name__)
app = typer.Typer(help="Careline: collect, classify, triage and answer brand mentions.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
# asgi.py wraps app.py in st.App with the routes that set the HttpOnly session cookie
DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard" / "asgi.py"


@app.callback()
def _main(ctx: typer.Context,
          verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show details and tracebacks.")] = False) -> None:
    use(ctx).verbose = verbose


@app.command()
def init(
    ctx: typer.Context,
    admin_password: Annotated[Optional[str], typer.Option(help="Create/refresh user 'admin' with this password.", envvar="CARELINE_ADMIN_PASSWORD")] = None,
) -> None:
    """Create or upgrade the database schema (Alembic) and load the brands from settings."""
    from sqlmodel import Session

    from careline.db import migrate
    from careline.services import brands, users

    state = use(ctx)
    settings, engine = state.settings, state.engine
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
    ctx: typer.Context,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
) -> None:
    """Load the offline demo (mentions, users, classification) into the database, then serve the dashboard."""
    from sqlmodel import Session

    from careline import jobs
    from careline.db import migrate
    from careline.services import app_settings, brands, users

    state = use(ctx)
    settings, engine = state.settings, state.engine
    migrate(engine)
    with Session(engine) as session:
        brands.sync_from_settings(session, settings.brands)
        if app_settings.get(session, "demo_anchor") is None:
            app_settings.put(session, "demo_anchor", datetime.now(timezone.utc).replace(microsecond=0).isoformat())
        existing = {u.username for u in users.list_users(session)}
        for name, role in (("admin", "admin"), ("agent", "agent"), ("viewer", "viewer")):
            if name not in existing:
                users.create_user(session, name, f"careline-{name}", role=role, display_name=name.title())
    from careline import care_demo
    from careline.factory import build_source
    from careline.services.collection import collect as run_collect

    care_demo.setup(engine, settings.timezone)  # team, SLA per brand, routing rules: before the corpus is routed
    summary = run_collect(engine, build_source("demo", settings, demo_anchor=jobs.demo_anchor(engine)), max_pages=100,
                          write_every=settings.collect_write_every)
    new = summary.new
    if not settings.streams:  # a real-time stream too: a local Jetstream replay (no network), see Sources
        from careline import demo_stream

        streamed = demo_stream.burst(engine)
        console.print(f"Demo stream: replayed {demo_stream.BURST} generated Bluesky events locally, "
                      f"{streamed} matched a brand; its author then deleted one (hidden from the inbox, "
                      "a search finds it badged 'deleted by the author').")
    _classify_db(settings, engine, fallback=True)
    from careline.services.demo_history import seed_answered

    with Session(engine) as session:  # answers to older complaints: the composer suggests them for new ones
        seed_answered(session, (jobs.demo_anchor(engine) or datetime.now(timezone.utc)) - timedelta(days=1))
    _care_demo_story(settings, engine)
    _link_demo_customer(engine)
    from careline import demo_desk

    demo_desk.seed(engine)  # an 'unknown' reply on the Outbox page, to show how one is resolved

    from careline import demo_search

    console.print(demo_search.prepare(engine))
    _export_demo_week(settings)
    console.print(f"Demo loaded: {new} new mention(s). Sign in as admin / careline-admin "
                  "(also agent / careline-agent, viewer / careline-viewer).")
    if serve_after:
        if not settings.streams:
            from careline import demo_stream

            _server, state.settings = demo_stream.start_live(settings, engine)
            os.environ[env_name("streams")] = '["jetstream"]'  # the dashboard process lists it as enabled
            console.print(f"Demo stream: live local Jetstream replay at {_server.url} "
                          f"({demo_stream.LIVE_RATE:g} events/s), consumed beside the dashboard.")
        serve(ctx, port=port, scheduler=True, headless=True)


def _care_demo_story(settings, engine) -> None:  # type: ignore[no-untyped-def]
    """The care workflow's story: a reopened case and an escalated storm complaint (careline/care_demo.py)."""
    from careline import care_demo, jobs

    anchor = jobs.demo_anchor(engine) or datetime.now(timezone.utc)
    care_demo.story_posts(engine, anchor)
    _classify_db(settings, engine, fallback=True)
    reopened = care_demo.story_follow_up(engine, anchor)
    _classify_db(settings, engine, fallback=True)
    result = care_demo.escalate(engine)
    console.print(f"Care: team '{care_demo.TEAM}' (agent, sam), an SLA policy per brand, {len(care_demo.RULES)} "
                  f"routing rules; {'a case reopened to its owner; ' if reopened else ''}"
                  f"{len(result.fired)} escalation step(s) fired, {len(result.notices)} grouped notice(s).")


def _link_demo_customer(engine) -> None:  # type: ignore[no-untyped-def]
    """Suggest customer links, and confirm the demo's returning customer (X + Mastodon) as a person would."""
    from sqlmodel import Session

    from careline.services import customer_links, customers
    from collectors.demo import DEMO_CUSTOMER

    with Session(engine) as session:
        result = customer_links.suggest(session)
        customers.accept_between(session, ("x", DEMO_CUSTOMER["x"]), ("mastodon", DEMO_CUSTOMER["mastodon"]),
                                 "demo", "admin")
        linked = customers.for_author(session, "x", DEMO_CUSTOMER["x"])
    console.print(f"Customers: {result.new} link suggestion(s) to review; {DEMO_CUSTOMER['name']} is linked across "
                  f"X and Mastodon (customer {linked.id if linked else '?'}).")


def _export_demo_week(settings) -> None:  # type: ignore[no-untyped-def]
    from careline.reports.alerts import run_checks
    from careline.reports.weekly import export_last_week

    try:
        paths = export_last_week(settings)
        if paths:
            console.print(f"Last week's report: {Path(paths[0]).parent}")
    except CarelineError as exc:
        console.print(f"[yellow]Weekly export skipped:[/] {exc}")

    result = run_checks(settings)  # the demo's built-in spike shows up in the dashboard right away
    if result.new:
        console.print(f"{len(result.new)} alert(s) raised, e.g. {result.new[0].message}")


def _classify_db(settings, engine, limit: int | None = None, fallback: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Classify unclassified mentions (at most `limit`) with a progress bar; returns how many."""
    from sqlmodel import Session

    from careline.errors import ConfigError
    from careline.factory import build_classifier
    from careline.services import queue
    from careline.services.classification import count_pending

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
        return queue.drain(session, classifier, batch_size=settings.classify_batch_size, limit=limit,
                           low_confidence=settings.low_confidence, progress=advance)


@app.command()
def collect(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run every enabled source once and exit.")] = True,
    source: Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only this source (repeatable).")] = None,
    max_pages: Annotated[int, typer.Option(help="Pages per query per run (backfill with more).")] = 10,
) -> None:
    """Collect new mentions from the enabled sources (CARELINE_SOURCES), then classify them."""
    from careline import jobs
    from careline.factory import build_source
    from careline.services.budgets import Budget
    from careline.services.collection import collect as run_collect

    state = use(ctx)
    settings, engine = state.settings, state.engine
    names = source or settings.sources
    failed = False
    for name in names:
        src = build_source(name, settings, demo_anchor=jobs.demo_anchor(engine))
        summary = run_collect(engine, src, max_pages=max_pages, budget=Budget.for_source(name, settings),
                              write_every=settings.collect_write_every)
        console.print(summary.line())
        for err in summary.errors:
            failed = True
            console.print(f"[red]{name}:[/] {err}")
    _classify_db(settings, engine)
    if failed:
        raise typer.Exit(1)


@app.command("classify")
def classify_cmd(
    ctx: typer.Context,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="JSONL, CSV or text file (one post per line). Without it: classify unclassified mentions in the database.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write JSONL labels (default: stdout).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model name or path (default: CARELINE_MODEL).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Classify at most this many database mentions.")] = None,
    all_: Annotated[bool, typer.Option("--all", "--reclassify", help="Re-classify every stored mention not "
                                       "labelled by the current model (resumable; corrections are kept).")] = False,
) -> None:
    """Tag sentiment and intent: a file of posts, or every unclassified mention in the database."""
    state = use(ctx)
    settings = state.settings
    if model:
        settings = settings.model_copy(update={"model": model})
    if input is not None:
        classify_cmds.classify_file_cmd(input=input, output=output, model=settings.model,
                                        low_confidence=settings.low_confidence,
                                        label_map=settings.model_label_map,
                                        language_models=settings.language_models,
                                        language_label_map=settings.language_model_label_map)
        return
    if all_:
        done = classify_cmds.reclassify_db(settings, state.engine, limit)
        console.print(f"Re-classified {done} mention(s).")
        return
    done = _classify_db(settings, state.engine, limit)
    console.print(f"Classified {done} mention(s).")


@app.command()
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
    scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler", help="Run the scheduler in this process too.")] = True,
    headless: Annotated[bool, typer.Option(help="Don't open a browser.")] = True,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the Streamlit dashboard on localhost (and the scheduler beside it)."""
    state = use(ctx)
    settings = state.settings
    stop = threading.Event()
    background = None
    if scheduler:
        # The same worker a separate `careline worker` runs: leader-elected schedule + queue consumers.
        from careline.workers import ROLES, run_worker

        background = threading.Thread(target=run_worker, args=(settings, state.engine, set(ROLES), stop),
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
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="Comma-separated: collect, classify, send, report, stream, or all.")] = "all",
) -> None:
    """Run background work without the dashboard. Start any number against one PostgreSQL database:
    classification and sending are shared work queues, and one elected leader runs the schedule."""
    from careline.workers import parse_roles, run_worker

    state = use(ctx)
    roles = parse_roles(role)
    console.print(f"Worker running ({', '.join(sorted(roles))}); Ctrl-C stops it.")
    run_worker(state.settings, state.engine, roles)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show mention counts, classification backlog, outbox and each source's health."""
    from rich.table import Table
    from sqlmodel import Session

    from careline.services import sources, stats

    state = use(ctx)
    settings, engine = state.settings, state.engine
    with Session(engine) as session:
        info = stats.overview(session)
        queries = sources.states(session)
    console.print(f"Database: {_redact_url(settings.url)}")
    for key, value in info["counts"].items():
        console.print(f"  {key}: {value}")
    table = Table("source", "query", "health", "cursor", "paused until", "last error")
    for st in queries:
        table.add_row(st.source, st.query_key, sources.query_health(st), (st.cursor or "")[:24],
                      str(st.paused_until or ""), (st.last_error or "")[:60])
    console.print(table)


# Commands that live in their own modules (one per area); each module's register() adds its commands.
COMMANDS = (classify_cmds, reply_cmds, report_cmds, user_cmds, source_cmds, search_cmds, customer_cmds, care_cmds)
for _module in COMMANDS:
    _module.register(app)


def main() -> None:
    state = CliContext()  # the callback fills in --verbose; the failure handlers below read it
    try:
        app(standalone_mode=False, obj=state)
    except CarelineError as exc:
        console.print(f"[red]Error:[/] {exc}")
        if state.verbose:
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
        if state.verbose:
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
        if state.verbose:
            console.print_exception()
        sys.exit(1)


if __name__ == "__main__":
    main()
