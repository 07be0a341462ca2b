"""`careline customer ...`: find a customer, see their timeline, link identities, export or erase them.

The CLI acts with admin rights (whoever runs it can read the database anyway); actions are audited as
`--as NAME` or cli:<login>.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from careline.commands.context import actor as _actor
from careline.commands.context import use
from careline.console import console, progress
from careline.errors import InvalidInput

customer_app = typer.Typer(help="Customers: one person across platforms (find, link, timeline, export, erase).",
                           no_args_is_help=True)
ROLE = "admin"
As = Annotated[Optional[str], typer.Option("--as", help="Name recorded in the audit log.")]


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@customer_app.command("list")
def list_cmd(ctx: typer.Context, query: Annotated[str, typer.Argument(help="Handle (start) or name (part).")] = "",
             vip: Annotated[bool, typer.Option(help="Only VIPs.")] = False,
             sort: Annotated[str, typer.Option(help="recent, complaints or mentions.")] = "recent",
             limit: int = 30) -> None:
    """Find customers by handle on any platform, or by name."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        found = customers.find(session, query, vip_only=vip, sort=sort, limit=limit)
        table = Table("id", "name", "identities", "mentions", "complaints", "praise", "open", "last contact", "vip")
        for c in found:
            ids = ", ".join(f"{i.platform}:@{i.handle}" for i in customers.identities(session, c.id or 0))
            table.add_row(str(c.id), Text(c.display_name or ""), Text(ids[:80]), str(c.mention_count), str(c.complaint_count),
                          str(c.praise_count), str(c.open_count), _when(c.last_contact_at), "yes" if c.vip else "")
    console.print(table if found else "No customer matches.")


@customer_app.command("show")
def show_cmd(ctx: typer.Context, customer_id: int, limit: Annotated[int, typer.Option(help="Timeline entries.")] = 30) -> None:
    """A customer's profile, identities and timeline (newest first)."""
    from careline.services import customer_timeline, customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        c = customers.get(session, customer_id)
        console.print(Text(f"{c.display_name} (customer {c.id}){' · VIP' if c.vip else ''}"
                           f"{' · erased ' + _when(c.erased_at) if c.erased_at else ''}", style="bold"))
        console.print(f"{c.mention_count} mentions, {c.complaint_count} complaints, {c.praise_count} praise, "
                      f"{c.open_count} open; last contact {_when(c.last_contact_at) or 'never'}; "
                      f"last thanked {_when(c.last_thanked_at) or 'never'}")
        for i in customers.identities(session, c.id or 0):
            console.print(f"  identity {i.id}: {i.platform} @{i.handle}", markup=False)
        table = Table("when (UTC)", "kind", "platform", "what")
        for e in customer_timeline.timeline(session, c.id or 0, limit=limit):
            table.add_row(_when(e.at), e.kind, e.platform or "", Text(e.summary[:100]))  # untrusted: plain text
        console.print(table)


@customer_app.command("suggest")
def suggest_cmd(ctx: typer.Context, full: Annotated[bool, typer.Option(help="Look at every identity again.")] = False) -> None:
    """Run the link-suggestion job (incremental after the first full pass)."""
    from careline.services import customer_links

    with Session(use(ctx).engine, expire_on_commit=False) as session, progress("Keying identities", None) as bar:
        result = customer_links.suggest(session, full=full, progress=lambda done, total: bar.update(done, total))
    console.print(f"{result.new} new and {result.updated} updated suggestion(s) from {result.candidates} candidate "
                  f"pair(s); {result.keyed} identities keyed; {result.auto_merged} merged by auto rules"
                  f" ({'full pass' if result.full else 'incremental'}).")


@customer_app.command("suggestions")
def suggestions_cmd(ctx: typer.Context, limit: int = 30) -> None:
    """Open link suggestions, strongest first."""
    from careline.services import customer_links, customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        views = customers.view_suggestions(session, customer_links.open_suggestions(session, limit=limit))
        table = Table("id", "score", "identity A", "identity B", "why")
        for v in views:
            table.add_row(str(v.suggestion.id), f"{v.suggestion.score:.2f}",
                          Text(f"{v.a.platform}:@{v.a.handle} (customer {v.customer_a.id})"),
                          Text(f"{v.b.platform}:@{v.b.handle} (customer {v.customer_b.id})"),
                          customer_links.describe(v.suggestion.reasons))
    console.print(table if views else "No open suggestions; run `careline customer suggest`.")


@customer_app.command("accept")
def accept_cmd(ctx: typer.Context, suggestion_id: int, as_: As = None) -> None:
    """Accept a suggestion: merge the two customers (undo with `careline customer undo`)."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        change = customers.accept_suggestion(session, suggestion_id, _actor(as_), ROLE)
    console.print(f"Merged customer {change.other_customer_id} into {change.customer_id} (change {change.id}).")


@customer_app.command("dismiss")
def dismiss_cmd(ctx: typer.Context, suggestion_id: int, as_: As = None) -> None:
    """Dismiss a suggestion: these are different people (it is not suggested again)."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        customers.dismiss_suggestion(session, suggestion_id, _actor(as_), ROLE)
    console.print(f"Suggestion {suggestion_id} dismissed.")


@customer_app.command("merge")
def merge_cmd(ctx: typer.Context, keep: int, other: int, as_: As = None) -> None:
    """Merge customer OTHER into KEEP (all identities and notes move; reversible)."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        change = customers.merge(session, keep, other, _actor(as_), ROLE, reason="cli")
    console.print(f"Merged customer {other} into {keep} (change {change.id}; undo: careline customer undo {change.id}).")


@customer_app.command("split")
def split_cmd(ctx: typer.Context, identity_id: int, as_: As = None) -> None:
    """Give one identity a customer of its own again."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        change = customers.split(session, identity_id, _actor(as_), ROLE, reason="cli")
    console.print(f"Identity {identity_id} is now customer {change.other_customer_id} (change {change.id}).")


@customer_app.command("undo")
def undo_cmd(ctx: typer.Context, change_id: int, as_: As = None) -> None:
    """Reverse a merge or a split."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        change = customers.undo(session, change_id, _actor(as_), ROLE)
    console.print(f"Change {change.id} ({change.kind}) undone.")


@customer_app.command("note")
def note_cmd(ctx: typer.Context, customer_id: int, text: str, as_: As = None) -> None:
    """Add a dated note to a customer."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        customers.add_note(session, customer_id, text, _actor(as_), ROLE)
    console.print("Note added.")


@customer_app.command("vip")
def vip_cmd(ctx: typer.Context, customer_id: int, on: Annotated[bool, typer.Option("--on/--off")] = True,
            as_: As = None) -> None:
    """Mark a customer as a VIP (routing and the inbox show it), or not."""
    from careline.services import customers

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        customers.update_profile(session, customer_id, _actor(as_), ROLE, vip=on)
    console.print(f"Customer {customer_id} is {'now' if on else 'no longer'} a VIP.")


@customer_app.command("auto-merge")
def auto_merge_cmd(ctx: typer.Context, rules: Annotated[Optional[list[str]], typer.Argument(
        help="Signals that merge without a person (e.g. mutual_link); none: show the current rules.")] = None,
                   off: Annotated[bool, typer.Option("--off", help="Turn every auto-merge rule off.")] = False,
                   as_: As = None) -> None:
    """Auto-merge rules (all off by default): which suggestion signals merge without a person confirming."""
    from careline.services import customer_links

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        if off or rules:
            now = customer_links.set_auto_rules(session, [] if off else rules or [], _actor(as_), ROLE)
        else:
            now = customer_links.auto_rules(session)
    console.print(f"Auto-merge rules: {', '.join(now) or 'none (every link is confirmed by a person)'}. "
                  f"Signals: {', '.join(customer_links.SCORES)}.")


@customer_app.command("export")
def export_cmd(ctx: typer.Context, customer_id: int,
               fmt: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
               out: Annotated[Optional[Path], typer.Option(help="File to write (default: print).")] = None,
               as_: As = None) -> None:
    """Everything we hold about a customer (the right of access), as JSON or CSV."""
    from careline.services import customer_privacy

    if fmt not in ("json", "csv"):
        raise InvalidInput(f"Unknown format {fmt!r}; use json or csv.")
    with Session(use(ctx).engine, expire_on_commit=False) as session:
        data = customer_privacy.export(session, customer_id, _actor(as_), ROLE, fmt=fmt)
    if out is None:
        typer.echo(data.decode("utf-8"))
    else:
        out.write_bytes(data)
        console.print(f"Wrote {len(data):,} bytes to {out}.")


@customer_app.command("erase")
def erase_cmd(ctx: typer.Context, customer_id: int,
              yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
              as_: As = None) -> None:
    """Erase a customer on request (GDPR): posts anonymised, identities and notes removed, counts kept."""
    from careline.services import customer_privacy

    if not yes and not typer.confirm(f"Erase customer {customer_id} for good? This cannot be undone."):
        raise typer.Exit(1)
    with Session(use(ctx).engine, expire_on_commit=False) as session:
        summary = customer_privacy.erase(session, customer_id, _actor(as_), ROLE)
    console.print(f"Customer {customer_id} erased: {summary['mentions']} post(s) anonymised, {summary['identities']} "
                  f"identit(ies) and {summary['notes']} note(s) removed; later posts by them will be skipped.")


@customer_app.command("erased")
def erased_cmd(ctx: typer.Context) -> None:
    """Erasure tombstones: how many posts by erased customers collection has skipped since."""
    from careline.services import customer_privacy

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        rows = customer_privacy.tombstones(session)
    table = Table("platform", "erased (UTC)", "posts skipped since", "last skipped")
    for t in rows:
        table.add_row(t.platform, _when(t.erased_at), str(t.skipped_count), _when(t.last_skipped_at))
    console.print(table if rows else "No customer has been erased.")


@customer_app.command("recount")
def recount_cmd(ctx: typer.Context) -> None:
    """Recount every customer's counts from the per-brand rollups (after making a brand a competitor)."""
    from careline.services import customer_counts

    with Session(use(ctx).engine, expire_on_commit=False) as session:
        n = customer_counts.refresh_everyone(session)
        session.commit()
    console.print(f"Recounted {n:,} customer(s).")


def register(app: typer.Typer) -> None:
    app.add_typer(customer_app, name="customer")
