"""`careline sla ...`, `careline teams ...`, `careline routing ...`: the care workflow from the terminal.

Each command parses options and calls careline/services (sla, teams, routing, escalation); a refused
change prints the service's one sentence and saves nothing.
"""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from sqlmodel import Session

from careline.commands.context import actor, use
from careline.console import console
from careline.errors import InvalidInput, NotFound

sla_app = typer.Typer(help="Response-time targets (SLA policies) per brand.", no_args_is_help=True)
teams_app = typer.Typer(help="Teams, their members and leads, and agents' availability.", no_args_is_help=True)
routing_app = typer.Typer(help="Routing rules: who gets which mention, tags, status, priority.",
                          no_args_is_help=True)

As = Annotated[Optional[str], typer.Option("--as", help="Name the audit log records (default cli:<login>).")]


def _brand_id(session: Session, name: str) -> int:
    from sqlmodel import select

    from careline.models import Brand

    brand = session.exec(select(Brand).where(Brand.name == name)).first()
    if brand is None or brand.id is None:
        raise NotFound(f"No brand named {name!r}; see Settings → Brands or careline.toml.")
    return brand.id


@sla_app.command("show")
def sla_show(ctx: typer.Context) -> None:
    """Every brand's policy (or the default target it falls back to)."""
    from rich.table import Table

    from careline.services import sla

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        rows = sla.list_policies(session)
        default = sla.default_minutes(session)
    table = Table("brand", "target", "per intent", "per platform", "zone", "business hours", "holidays", "pause")
    for brand, p in rows:
        if brand.competitor:
            table.add_row(brand.name, "(competitor: not answered)", "", "", "", "", "", "")
        elif p is None:
            table.add_row(brand.name, f"{default} min (default)", "", "", "UTC", "around the clock", "", "")
        else:
            table.add_row(brand.name, f"{p.first_response_minutes} min", json.dumps(p.intent_minutes),
                          json.dumps(p.platform_minutes), p.timezone,
                          sla.hours_to_text(p.business_hours).replace("\n", "; ") or "around the clock",
                          ", ".join(p.holidays), "yes" if p.pause_outside_hours else "no")
    console.print(table)


@sla_app.command("set")
def sla_set(
    ctx: typer.Context,
    brand: Annotated[str, typer.Argument(help="Brand name, as in Settings → Brands.")],
    minutes: Annotated[int, typer.Option(help="First-response target in minutes.")],
    intent: Annotated[Optional[str], typer.Option(help="Per-intent targets, e.g. 'complaint=60,question=90'.")] = None,
    platform: Annotated[Optional[str], typer.Option(help="Per-platform targets, e.g. 'x=30'.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the business hours.")] = "UTC",
    hours: Annotated[Optional[str], typer.Option(help="Business hours, e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00'.")] = None,
    holiday: Annotated[Optional[list[str]], typer.Option(help="A closed date (repeatable), e.g. 2026-12-25.")] = None,
    pause: Annotated[bool, typer.Option("--pause/--no-pause", help="Stop the clock outside business hours.")] = False,
    escalation: Annotated[Optional[str], typer.Option(help="Escalation steps as JSON (see docs/care.md).")] = None,
    as_: As = None,
) -> None:
    """Set a brand's policy; its open mentions are re-timed at once."""
    from careline.services import sla

    try:
        steps = json.loads(escalation) if escalation else None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--escalation is not valid JSON ({exc.msg} at character {exc.pos}).") from None
    with Session(use(ctx).engine, expire_on_commit=False) as session:
        _row, changed = sla.save_policy(
            session, actor(as_), _brand_id(session, brand), minutes=minutes,
            intent_minutes=sla.pairs_from_text(intent or "", "intent"),
            platform_minutes=sla.pairs_from_text(platform or "", "platform"), timezone_name=timezone,
            business_hours=sla.hours_from_text(hours or ""), holidays=holiday or [], pause_outside_hours=pause,
            escalation=steps)
    console.print(f"SLA policy for {brand} saved; {changed:,} open mention(s) re-timed.")


@sla_app.command("clear")
def sla_clear(ctx: typer.Context, brand: Annotated[str, typer.Argument(help="Brand name.")], as_: As = None) -> None:
    """Remove a brand's own policy (it falls back to the default target)."""
    from careline.services import sla

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        changed = sla.delete_policy(session, actor(as_), _brand_id(session, brand))
    console.print(f"{brand} now uses the default target; {changed:,} open mention(s) re-timed.")


@sla_app.command("recompute")
def sla_recompute(ctx: typer.Context) -> None:
    """Re-time every open, unanswered mention and refresh the inbox order (after an upgrade or a restore)."""
    from careline.services import sla

    with console.status("Re-timing open mentions…"), Session(use(ctx).engine, expire_on_commit=False) as session:
        changed = sla.recompute(session)
    console.print(f"{changed:,} open mention(s) re-timed.")


@teams_app.command("list")
def teams_list(ctx: typer.Context) -> None:
    """Teams with their lead, cap, members, and who is away."""
    from rich.table import Table

    from careline.services import teams

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        away = {u for u, ok in teams.availability(session).items() if not ok}
        table = Table("team", "lead", "cap per agent", "members (away marked)")
        for t in teams.list_teams(session):
            members = [m + (" (away)" if m in away else "") for m in teams.member_names(session, t.id or 0)]
            table.add_row(t.name, t.lead or "", str(t.open_cap), ", ".join(members))
    console.print(table)


@teams_app.command("save")
def teams_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Team name.")],
    member: Annotated[Optional[list[str]], typer.Option(help="A member's username (repeatable).")] = None,
    lead: Annotated[Optional[str], typer.Option(help="The team lead (escalations go to them).")] = None,
    cap: Annotated[int, typer.Option(help="Most open mentions round robin gives one agent.")] = 20,
    as_: As = None,
) -> None:
    """Create or update a team (its member list is replaced)."""
    from careline.services import teams

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        team = teams.save_team(session, actor(as_), name, member or [], lead=lead, open_cap=cap)
    console.print(f"Team {team.name} saved.")


@teams_app.command("delete")
def teams_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Team name.")], as_: As = None) -> None:
    from careline.services import teams

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        team = teams.by_name(session, name)
        if team is None or team.id is None:
            raise NotFound(f"No team named {name!r}.")
        teams.delete_team(session, actor(as_), team.id)
    console.print(f"Team {name} deleted.")


@teams_app.command("away")
def teams_away(ctx: typer.Context, username: Annotated[str, typer.Argument()], as_: As = None) -> None:
    """Mark an agent away: round robin skips them until they are available again."""
    from careline.services import teams

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        teams.set_available(session, username, False, actor(as_))
    console.print(f"{username} is away.")


@teams_app.command("available")
def teams_available(ctx: typer.Context, username: Annotated[str, typer.Argument()], as_: As = None) -> None:
    from careline.services import teams

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        teams.set_available(session, username, True, actor(as_))
    console.print(f"{username} is available.")


@routing_app.command("list")
def routing_list(ctx: typer.Context) -> None:
    """The rules in the order they run."""
    from rich.table import Table

    from careline.services import routing

    table = Table("#", "position", "name", "rule", "enabled", "stop")
    with Session(use(ctx).engine, expire_on_commit=False) as session:
        for r in routing.list_rules(session):
            table.add_row(str(r.id), str(r.position), r.name, routing.describe(r.conditions, r.actions),
                          "yes" if r.enabled else "no", "yes" if r.stop else "")
    console.print(table)


@routing_app.command("save")
def routing_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Rule name (saving an existing name updates that rule).")],
    when: Annotated[str, typer.Option("--when", help='Conditions as JSON, e.g. \'{"intent": ["complaint"]}\'.')] = "{}",
    then: Annotated[str, typer.Option("--then", help='Actions as JSON, e.g. \'[{"team": "Care"}, {"tag": "bags"}]\'.')] = "[]",
    position: Annotated[Optional[int], typer.Option(help="Rules run by ascending position (default: last).")] = None,
    stop: Annotated[bool, typer.Option("--stop/--no-stop", help="Skip later rules when this one matches.")] = False,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled")] = True,
    as_: As = None,
) -> None:
    """Add or update a routing rule; a bad rule is refused in one sentence and nothing is saved."""
    from sqlmodel import select

    from careline.models import RoutingRule
    from careline.services import routing

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        existing = session.exec(select(RoutingRule).where(RoutingRule.name == name.strip())).first()
        rule = routing.save_rule(session, actor(as_), name, routing.parse_json(when, "conditions"),
                                 routing.parse_json(then, "actions"), position=position, stop=stop,
                                 enabled=enabled, rule_id=existing.id if existing else None)
    console.print(f"Rule {rule.name} saved at position {rule.position}.")


@routing_app.command("delete")
def routing_delete(ctx: typer.Context, name: Annotated[str, typer.Argument()], as_: As = None) -> None:
    from sqlmodel import select

    from careline.models import RoutingRule
    from careline.services import routing

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        rule = session.exec(select(RoutingRule).where(RoutingRule.name == name.strip())).first()
        if rule is None or rule.id is None:
            raise NotFound(f"No routing rule named {name!r}.")
        routing.delete_rule(session, actor(as_), rule.id)
    console.print(f"Rule {name} deleted.")


def register(app: typer.Typer) -> None:
    app.add_typer(sla_app, name="sla")
    app.add_typer(teams_app, name="teams")
    app.add_typer(routing_app, name="routing")
