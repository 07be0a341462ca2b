"""`careline search QUERY`: the inbox's search syntax from the terminal, as a table or JSON for scripts."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from careline.commands.context import use
from careline.console import console
from careline.errors import InvalidInput


def search_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Search syntax, e.g. \'"lost bag" -spam from:sam_12 tag:vip\'.')] = "",
    output: Annotated[str, typer.Option("--format", "-f", help="table, json, or csv (every match, up to "
                                                               "100,000, for spreadsheets; audited).")] = "table",
    open_only: Annotated[bool, typer.Option("--open", help="Only open mentions (new, assigned), as the inbox shows "
                                                           "by default; otherwise every status and date.")] = False,
    order: Annotated[str, typer.Option(help="inbox (most urgent first), relevance, newest or oldest.")] = "inbox",
    limit: Annotated[int, typer.Option(help="Results per page (1-500).")] = 20,
    page: Annotated[int, typer.Option(help="Page number, from 1.")] = 1,
    user: Annotated[str | None, typer.Option("--as", help="Who `assignee:me` means.")] = None,
    exact_total: Annotated[bool, typer.Option("--exact-total", help="Count every match (the total is otherwise "
                                              "exact up to 1,000, then \"1,000+\"; a full count of a common "
                                              "word can take seconds on PostgreSQL).")] = False,
    rebuild_index: Annotated[bool, typer.Option("--rebuild-index", help="Re-read every mention into the full-text "
                                                "index first (SQLite; only after a restore or manual surgery).")] = False,
) -> None:
    """Find mentions with the search syntax (README: "Search"). Words, "phrases", prefix*, -exclusions,
    from:handle, platform:x, tag:vip, brand:NAME, status:, intent:, sentiment:, lang:, assignee:."""
    from sqlmodel import Session

    from careline import search_index
    from careline.services import inbox, inbox_search

    if output not in ("table", "json", "csv"):
        raise InvalidInput(f"--format is table, json or csv, not {output!r}.")
    if order not in inbox.ORDERS:
        raise InvalidInput(f"--order is one of {', '.join(inbox.ORDERS)}, not {order!r}.")
    engine = use(ctx).engine
    if rebuild_index:
        with engine.begin() as conn:
            search_index.rebuild_index(conn)
        console.print("Full-text index rebuilt.")
    if not query.strip():
        if rebuild_index:
            return
        raise InvalidInput('Say what to find, e.g. careline search \'"lost bag"\'.')
    if output == "csv":
        from careline.commands.context import actor
        from careline.services import search_export

        with Session(engine) as session:
            data, exported = search_export.to_csv(session, inbox_search.filter_for(query, everywhere=not open_only, me=user),
                                              actor(user), order=order)
        sys.stdout.write(data.decode("utf-8"))
        console.print(f"{exported:,} mention(s) exported.")
        return
    with Session(engine) as session:
        result = inbox_search.search(session, query, everywhere=not open_only, order=order, me=user,
                               page=page, page_size=max(1, min(limit, 500)), exact_total=exact_total)
        brands = {b.id: b.name for b in inbox.brands(session)}
    if result.note:
        console.print(f"Note: {result.note}", markup=False, highlight=False)
    rows = [_row(m, result.query, brands) for m in result.items]
    if output == "json":
        sys.stdout.write(json.dumps({"query": str(result.query), "note": result.note, "total": result.total,
                                     "total_capped": result.capped, "page": result.page, "has_next": result.has_next,
                                     "results": rows},
                                    ensure_ascii=False, indent=1) + "\n")
        return
    _table(rows, result.total_text, result.page, result.page_size)


def _row(m: Any, q: Any, brands: dict[int | None, str]) -> dict[str, Any]:
    from careline.services.inbox import deleted_badge
    from careline.services.search import snippet

    return {"id": m.id, "platform": m.platform, "brand": brands.get(m.brand_id or -1), "author": m.author_handle,
            "created_at": m.created_at.isoformat(), "status": m.status, "deleted": deleted_badge(m) or None,
            "assignee": m.assignee,
            "priority": round(m.priority, 1), "tags": list(m.tags or []), "url": m.url, "text": m.text,
            "snippet": snippet(m.text, q, 120) if q.positive else " ".join(m.text.split())[:120]}


def _table(rows: list[dict[str, Any]], total: str, page: int, page_size: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("#", "platform", "author", "posted", "status", "text")
    for r in rows:  # Text(): mention text is never read as rich markup
        table.add_row(str(r["id"]), r["platform"], Text(r["author"] or ""), r["created_at"][:16].replace("T", " "),
                      r["status"] + (f" · {r['deleted']}" if r["deleted"] else ""), Text(r["snippet"]))
    out = Console(soft_wrap=False)
    out.print(table)
    first = (page - 1) * page_size + 1 if rows else 0
    out.print(Text(f"{total} found · showing {first}-{first + len(rows) - 1 if rows else 0}"))


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
