"""`careline user add|list|disable|enable|remove|passwd|role`: dashboard users, every change audited.

A change reaches open dashboard sessions at their next click: disabling, removing or a new password signs
the user out everywhere; a new role applies at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from careline.commands.context import actor, use
from careline.console import console
from careline.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ACTIONS = ("add", "list", "disable", "enable", "remove", "passwd", "role")


def user_cmd(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="add, list, disable, enable, remove, passwd or role.")],
    name: Annotated[str | None, typer.Argument(help="Username (stored in lower case).")] = None,
    role: Annotated[str, typer.Option(help="admin, agent or viewer (for add and role).")] = "agent",
    display_name: Annotated[str | None, typer.Option(help="Name shown in the dashboard.")] = None,
    password: Annotated[str | None, typer.Option(
        envvar="CARELINE_NEW_USER_PASSWORD", hidden=True,
        help="Password for scripts; otherwise you are prompted and nothing is echoed.")] = None,
) -> None:
    """Dashboard users: `careline user add NAME --role agent` (prompts for a password), `careline user list`,
    `careline user disable|enable|remove NAME`, `careline user passwd NAME`, `careline user role NAME --role viewer`."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; use {', '.join(ACTIONS)}")
    if action == "list":
        _list(use(ctx).engine)
        return
    if not name:
        raise InvalidInput(f"say which user: careline user {action} NAME")
    if action == "add":
        _add(use(ctx).engine, name, role, display_name, password)
    else:
        _change(use(ctx).engine, action, name, role, password)


def _add(engine: Engine, name: str, role: str, display_name: str | None, password: str | None) -> None:
    from sqlmodel import Session

    from careline.services import users

    if password is None:
        password = typer.prompt("Password (8+ characters)", hide_input=True, confirmation_prompt=True)
    with Session(engine) as session:
        user = users.create_user(session, name, password, role=role, display_name=display_name, actor="cli")
        console.print(f"User [bold]{user.username}[/] saved with role {user.role}.")


def _change(engine: Engine, action: str, name: str, role: str, password: str | None) -> None:
    from sqlmodel import Session

    from careline.services import users

    who = actor()
    if action == "passwd" and password is None:
        password = typer.prompt("New password (8+ characters)", hide_input=True, confirmation_prompt=True)
    with Session(engine) as session:
        if action in ("disable", "enable"):
            user = users.set_active(session, name, action == "enable", who)
            console.print(f"User [bold]{user.username}[/] {action}d" +
                          (" and signed out everywhere." if action == "disable" else "."))
        elif action == "remove":
            users.remove(session, name, who)
            console.print(f"User [bold]{name.strip().lower()}[/] removed and signed out everywhere; "
                          "their audit trail stays.")
        elif action == "passwd":
            user = users.set_password(session, name, password or "", who)
            console.print(f"Password of [bold]{user.username}[/] changed; their open sessions ended.")
        else:
            user = users.set_role(session, name, role, who)
            console.print(f"User [bold]{user.username}[/] is now {user.role} (open sessions too, at their next click).")


def _list(engine: Engine) -> None:
    from rich.table import Table
    from sqlmodel import Session

    from careline.services import users

    with Session(engine) as session:
        rows = users.list_users(session)
    table = Table("username", "name", "role", "active")
    for u in rows:
        table.add_row(u.username, u.display_name or "", u.role, "yes" if u.active else "no")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("user")(user_cmd)
