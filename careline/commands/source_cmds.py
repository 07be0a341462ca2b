"""`careline backfill --source x --pages 50` and `careline sources [list|pause|resume|reset|set] [NAME]`."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Optional

import typer

from careline.commands.context import use
from careline.console import console, progress
from careline.errors import InvalidInput
from careline.settings import PLATFORMS


def _check(name: str | None) -> str:
    if not name:
        raise InvalidInput(f"say which source: one of {', '.join(PLATFORMS)}")
    if name not in PLATFORMS:
        raise InvalidInput(f"unknown source {name!r}; choose from {', '.join(PLATFORMS)}")
    return name


def backfill_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", "-s", help="x, reddit, bluesky, mastodon, hackernews or demo.")],
    pages: Annotated[int, typer.Option(min=1, max=1000, help="Pages per brand query (X: 100 posts a page).")] = 50,
    brand: Annotated[Optional[str], typer.Option(help="Only this brand (its name).")] = None,
    restart: Annotated[bool, typer.Option(
        "--restart", help="Forget the stored cursors first and walk back from the newest posts "
                          "(duplicates are skipped).")] = False,
    classify: Annotated[bool, typer.Option("--classify/--no-classify", help="Classify what arrived.")] = True,
) -> None:
    """Collect many pages at once (e.g. after adding a brand), with progress and an ETA."""
    from sqlmodel import Session

    from careline import jobs
    from careline.factory import build_source
    from careline.services import brands as brand_service
    from careline.services.budgets import Budget
    from careline.services.collection import collect
    from careline.services.sources import reset_cursors

    name = _check(source)
    settings, engine = use(ctx).settings, use(ctx).engine
    src = build_source(name, settings, demo_anchor=jobs.demo_anchor(engine))
    with Session(engine) as session:
        queries = [q for _, q in brand_service.queries_for(session, name)
                   if brand is None or q.brand.lower() == brand.lower()]
        if restart:
            reset_cursors(session, name, actor="cli")
    if not queries:
        raise InvalidInput(f"no brand queries for {name}" + (f" and brand {brand!r}" if brand else "")
                           + "; add brands in careline.toml and run `careline init`")
    started = time.monotonic()
    with progress(f"Backfilling {name}", pages * len(queries)) as advance:
        def on_page(_key: str, page: int, batch) -> None:  # type: ignore[no-untyped-def]
            advance(1 if batch.has_more else pages - page)  # a finished query jumps to its share's end
        summary = collect(engine, src, max_pages=pages, on_page=on_page, brand=brand,
                          budget=Budget.for_source(name, settings), write_every=settings.collect_write_every)
    elapsed = time.monotonic() - started
    per = f"{summary.api_calls / summary.new:.3f}" if summary.new else "n/a"
    console.print(f"{summary.line()[:-1]} ({per} per new mention) in {elapsed:.1f}s.")
    for err in summary.errors:
        console.print(f"[red]{name}:[/] {err}")
    if classify and summary.new:
        done = jobs.classify_pending(settings, engine)
        console.print(f"Classified {done} mention(s).")
    if summary.errors:
        raise typer.Exit(1)


def sources_cmd(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="list, pause, resume, reset (forget cursors) or set (a brand's "
                                                 "query options on one platform).")] = "list",
    name: Annotated[Optional[str], typer.Argument(help="The source, for pause/resume/reset/set.")] = None,
    hours: Annotated[Optional[float], typer.Option(help="Pause for this many hours (default: until resumed).")] = None,
    brand: Annotated[Optional[str], typer.Option(help="For set: the brand's name.")] = None,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-o", help="For set: KEY=VALUE, repeatable (e.g. own_subreddits=AcmeAir, lang=en); "
                               "KEY= removes it.")] = None,
    query: Annotated[Optional[str], typer.Option(help="For set: a hand-written search query (\"\" removes it).")] = None,
) -> None:
    """Each source's health, cursor, rate-limit budget and last run; pause, resume or tune a source."""
    from sqlmodel import Session

    from careline.models import utcnow
    from careline.services import sources

    settings, engine = use(ctx).settings, use(ctx).engine
    if action == "list":
        _list(settings, engine)
        return
    source = _check(name)
    with Session(engine) as session:
        if action == "pause":
            until = utcnow() + timedelta(hours=hours) if hours else None
            n = sources.pause(session, source, actor="cli", until=until)
            console.print(f"{source}: {n} quer{'y' if n == 1 else 'ies'} paused "
                          + (f"until {until:%Y-%m-%d %H:%M} UTC." if until else "until resumed."))
        elif action == "resume":
            sources.resume(session, source, actor="cli")
            console.print(f"{source}: resumed; the next run collects again.")
        elif action == "set":
            if not brand:
                raise InvalidInput("say which brand: careline sources set reddit --brand \"Acme Air\" -o KEY=VALUE")
            opts = {}
            for item in option or []:
                key, sep, value = item.partition("=")
                if not sep or not key.strip():
                    raise InvalidInput(f"options are KEY=VALUE, got {item!r}")
                opts[key.strip()] = value.strip()
            bq = sources.set_query(session, brand, source, actor="cli", query=query, options=opts)
            console.print(f"{brand} on {source}: query {bq.query or '(built from keywords)'!r}, options {bq.options}.")
        elif action == "reset":
            n = sources.reset_cursors(session, source, actor="cli")
            console.print(f"{source}: {n} cursor(s) cleared; the next run starts from the newest posts.")
        else:
            raise InvalidInput(f"unknown action {action!r}; use list, pause, resume, reset or set")


def _list(settings, engine) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table
    from sqlmodel import Session

    from careline.models import CollectorRun, utcnow
    from careline.services import sources
    from careline.services import streams as stream_service

    now = utcnow()
    with Session(engine) as session:
        enabled = stream_service.enabled_sources(settings.sources, settings.streams)
        health = sources.health(session, enabled, now)
        runs = sources.recent_runs(session, limit=500)
        live = stream_service.statuses(session)
    last: dict[tuple[str, str | None], CollectorRun] = {}
    for run in runs:  # newest first
        last.setdefault((run.source, run.query_key), run)
    table = Table("source", "query", "enabled", "health", "paused until", "budget left", "last run", "last error")
    label = {sources.HEALTHY: "ok", sources.FAILING: "[red]FAILING[/]", sources.PAUSED: "paused"}
    for src in health:
        if not src.states and src.enabled:
            table.add_row(src.name, "", "yes", "not run yet", "", "", "", "")
        for st in src.states:
            latest = last.get((st.source, st.query_key))
            paused = st.paused_until if st.paused_until and st.paused_until > now else None
            budget = "" if st.rate_limit_remaining is None else (
                f"{st.rate_limit_remaining}" + (f"/{st.rate_limit_limit}" if st.rate_limit_limit else "")
                + (f" (resets {st.rate_limit_reset_at:%H:%M})" if st.rate_limit_reset_at else ""))
            last_run = ("" if latest is None
                        else f"{latest.started_at:%Y-%m-%d %H:%M}, {latest.items_new} new")
            table.add_row(st.source, st.query_key, "yes" if src.enabled else "no",
                          label[sources.query_health(st, now)], f"{paused:%Y-%m-%d %H:%M}" if paused else "",
                          budget, last_run, (st.last_error or "")[:80])
    console.print(table)
    from careline.services import budgets

    with Session(engine) as session:
        spent = budgets.describe(session, budgets.Budget.for_source("x", settings), now)
    if spent:
        console.print(f"X budget: {spent}")
    if live:
        streams = Table("stream", "enabled", "consumer", "state, events per minute, lag")
        for status in live:
            streams.add_row(status.source, "yes" if status.source in enabled else "no", status.owner or "",
                            stream_service.describe(status, now))
        console.print(streams)

def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill_cmd)
    app.command("sources")(sources_cmd)
