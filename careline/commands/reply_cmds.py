"""`careline reply` (queue, and optionally send, a reply) and `careline outbox` (see and resolve replies)."""
from __future__ import annotations

import logging
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from careline.commands.context import actor as _actor
from careline.commands.context import use
from careline.console import console
from careline.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)


def reply_cmd(
    ctx: typer.Context,
    mention_id: Annotated[int, typer.Argument(help="The mention to answer (its id in `careline` / the dashboard).")],
    text: Annotated[str, typer.Argument(help="What to post, as it will appear.")],
    confirm: Annotated[bool, typer.Option("--confirm", help="Send even though a reply is already queued or sent.")] = False,
    send_now: Annotated[bool, typer.Option("--send-now", help="Post it now instead of waiting for the sender job.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only record it; publish nothing.")] = False,
    thanks: Annotated[bool, typer.Option("--thanks", help="This thanks an advocate (tracked on the advocates page).")] = False,
    actor: Annotated[Optional[str], typer.Option("--as", help="Who approves it (default: cli:<your login>).")] = None,
) -> None:
    """Queue a reply to a mention on its platform; it is posted exactly once by the sender (or --send-now)."""
    from sqlmodel import Session

    from careline.factory import dry_run_reason
    from careline.models import Mention
    from careline.services import outbox, replies

    settings, engine = use(ctx).settings, use(ctx).engine
    with Session(engine, expire_on_commit=False) as session:
        mention = session.get(Mention, mention_id)
        if mention is None:
            raise InvalidInput(f"Mention {mention_id} does not exist.")
        reason = "--dry-run was given" if dry_run else dry_run_reason(mention.platform, settings)
        try:
            reply = replies.queue_reply(session, mention_id, text, _actor(actor), kind="thanks" if thanks else "reply",
                                        confirm_duplicate=confirm, dry_run=dry_run)
        except Conflict as exc:
            raise Conflict(f"{exc} Add --confirm to send another.") from exc
    console.print(f"Queued reply #{reply.id} to {mention.platform} mention {mention_id}.")
    if reason:
        console.print(f"[yellow]Dry run:[/] nothing will be published on {mention.platform} ({reason}).")
    if not send_now:
        console.print("The sender job posts it within a minute (`careline worker --role send` or `careline serve`).")
        return
    outbox.run(settings, engine, only_ids=[reply.id])  # type: ignore[list-item]
    with Session(engine) as session:
        from careline.models import Reply

        row = session.get(Reply, reply.id)
        assert row is not None
        console.print(Text(f"Reply #{row.id}: {outbox.status_line(row)}"))
        if row.state == "failed":
            raise typer.Exit(1)


def outbox_cmd(
    ctx: typer.Context,
    state: Annotated[Optional[list[str]], typer.Option("--state", "-s", help="Only these states (repeatable): queued, sending, sent, failed, unknown, cancelled.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest first).")] = 30,
    retry: Annotated[Optional[int], typer.Option("--retry", help="Send this failed/unknown reply again (for unknown: you checked it was NOT posted).")] = None,
    mark_sent: Annotated[Optional[int], typer.Option("--mark-sent", help="Record this unknown/failed reply as posted (you found it on the platform).")] = None,
    url: Annotated[Optional[str], typer.Option("--url", help="With --mark-sent: the link to the posted reply.")] = None,
    cancel: Annotated[Optional[int], typer.Option("--cancel", help="Cancel this queued reply.")] = None,
    send: Annotated[bool, typer.Option("--send", help="Run the sender once now.")] = False,
    actor: Annotated[Optional[str], typer.Option("--as", help="Who does this (default: cli:<your login>).")] = None,
) -> None:
    """List the outbox (state, link or error, who approved) and resolve unknown or failed replies."""
    from sqlmodel import Session

    from careline.services import outbox, replies

    settings, engine = use(ctx).settings, use(ctx).engine
    who = _actor(actor)
    with Session(engine, expire_on_commit=False) as session:
        if retry is not None:
            row = replies.retry(session, retry, who)
            console.print(f"Reply #{row.id} queued again.")
        if mark_sent is not None:
            if not url:
                raise InvalidInput("Give the link to the reply you found: --url https://...")
            row = replies.mark_sent(session, mark_sent, who, url=url)
            console.print(f"Reply #{row.id} recorded as sent: {row.url}")
        if cancel is not None:
            row = replies.cancel(session, cancel, who)
            console.print(f"Reply #{row.id} cancelled.")
    if send:
        summary = outbox.run(settings, engine)
        console.print(f"Sender: {summary.sent} sent ({summary.dry_run} dry run), {summary.failed} failed, "
                      f"{summary.waiting} waiting, {summary.checking} being checked, {summary.unknown} unknown.")
    with Session(engine) as session:
        rows = replies.list_outbox(session, states=state, limit=limit)
    if not rows:
        console.print("The outbox is empty.")
        return
    table = Table("id", "mention", "platform", "state", "by", "tries", "text", "link / what next")
    for r in rows:
        state_text = r.state + (" (dry run)" if r.dry_run else "")
        style = {"sent": "green", "failed": "red", "unknown": "bold red", "queued": "yellow"}.get(r.state, "")
        # Texts come from people and platforms: rich Text, never markup
        table.add_row(str(r.id), str(r.mention_id), r.platform, Text(state_text, style=style), Text(r.created_by),
                      str(r.attempts), Text(r.text[:60] + ("…" if len(r.text) > 60 else "")),
                      Text(outbox.status_line(r)))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("reply")(reply_cmd)
    app.command("outbox")(outbox_cmd)
