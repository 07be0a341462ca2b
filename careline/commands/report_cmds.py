"""`careline export` (the weekly report) and `careline alerts` (list, check and deliver alerts)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from careline.commands.context import use
from careline.console import console, progress
from careline.errors import CarelineError


def export_cmd(
    ctx: typer.Context,
    week: Annotated[Optional[str], typer.Option("--week", "-w", help="ISO week like 2026-W47 (default: the last complete week in CARELINE_TIMEZONE).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for the files (default: CARELINE_EXPORT_DIR or <data dir>/exports).")] = None,
    send: Annotated[bool, typer.Option("--send", help="Also send the HTML summary and XLSX to CARELINE_ALERT_URLS.")] = False,
    every_week: Annotated[Optional[bool], typer.Option("--send-every-week/--no-send-every-week", help="Make the Monday job send the report too (remembered).")] = None,
) -> None:
    """Write the weekly report (CSV, XLSX, PNG chart, HTML summary) for one ISO week."""
    from careline.reports.periods import last_complete_week, week_period
    from careline.reports.weekly import export_week, send_report

    settings, engine = use(ctx).settings, use(ctx).engine
    if every_week is not None:
        from sqlmodel import Session

        from careline.services import app_settings

        with Session(engine) as session:
            app_settings.put(session, "send_weekly_report", every_week, actor="cli")
        console.print(f"The Monday job will {'send' if every_week else 'not send'} the report to CARELINE_ALERT_URLS.")
    label = week_period(week, settings.zone).label if week else last_complete_week(settings.zone).label
    with progress(f"Exporting {label}", None) as bar:
        def on_progress(advance: int = 0, total: int | None = None) -> None:
            if total is not None:
                bar.update(total=total)
            if advance:
                bar(advance)

        paths = export_week(settings, engine, label, out_dir=out, progress=on_progress)
    console.print(f"Wrote {len(paths)} files for {label} to [bold]{paths[0].parent}[/]:")
    for path in paths:
        console.print(f"  {path.name}")
    if send:
        send_report(settings, paths)
        console.print(f"Sent the report to {len(settings.alert_urls)} alert URL(s).")


def alerts_cmd(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Run the spike and high-reach checks now and deliver pending alerts.")] = False,
    limit: Annotated[int, typer.Option(help="How many recent alerts to list.")] = 20,
    rules: Annotated[Optional[str], typer.Option(help='Store new alert thresholds as JSON, e.g. \'{"min_count": 20}\' ("{}" restores the defaults).')] = None,
) -> None:
    """List recent alerts; with --check, detect new ones and deliver them first."""
    from rich.table import Table
    from sqlmodel import Session

    from careline.reports.alerts import list_alerts, run_checks

    settings, engine = use(ctx).settings, use(ctx).engine
    if rules is not None:
        _store_rules(engine, rules)
    result = None
    if check:
        result = run_checks(settings, engine)
        console.print(f"Checked: {len(result.new)} new alert(s).")
    with Session(engine) as session:
        alerts = list_alerts(session, limit=limit)
    if not alerts:
        console.print("No alerts yet.")
    else:
        table = Table("id", "when (UTC)", "kind", "message", "delivery")
        for a in alerts:
            if a.delivered_at:
                state = f"sent {a.delivered_at:%m-%d %H:%M}"
            elif a.delivery_error:
                state = a.delivery_error
            else:
                state = "pending" if settings.alert_urls else "stored (no CARELINE_ALERT_URLS)"
            table.add_row(str(a.id), f"{a.created_at:%Y-%m-%d %H:%M}", a.kind, a.message, state)
        console.print(table)
    if result is not None and result.delivery.failed:
        raise CarelineError(
            f"{result.delivery.failed} alert(s) could not be delivered ({', '.join(result.delivery.errors)} "
            "refused or was unreachable); they are stored and will be retried on the next check.")


def _store_rules(engine: Any, text: str) -> None:
    import json
    from dataclasses import asdict, fields

    from sqlmodel import Session

    from careline.errors import InvalidInput
    from careline.reports.alerts import AlertRules
    from careline.services import app_settings

    try:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("expected a JSON object")
        unknown = set(values) - {f.name for f in fields(AlertRules)}
        if unknown:
            raise ValueError(f"unknown rule {sorted(unknown)[0]!r}")
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
        rules = AlertRules(**values)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"Invalid --rules: {exc}.") from exc
    with Session(engine) as session:
        app_settings.put(session, "alert_rules", values, actor="cli")
    console.print("Alert rules: " + ", ".join(f"{k}={v}" for k, v in asdict(rules).items()))


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
    app.command("alerts")(alerts_cmd)
