"""`careline user add NAME --role agent` (prompts for the password) and `careline user list`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from careline.commands.context import use
from careline.console import console
from careline.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def user_cmd(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="add (or reset a password/role) or list.")],
    name: Annotated[Optional[str], typer.Argument(help="Username, for add (stored in lower case).")] = None,
    role: Annotated[str, typer.Option(help="admin, agent or viewer.")] = "agent",
    display_name: Annotated[Optional[str], typer.Option(help="Name shown in the dashboard.")] = None,
    password: Annotated[Optional[str], typer.Option(
        envvar="CARELINE_NEW_USER_PASSWORD", hidden=True,
        help="Password for scripts; otherwise you are prompted and nothing is echoed.")] = None,
) -> None:
    """Dashboard users: `careline user add NAME --role agent` (prompts for a password), `careline user list`."""
    if action == "add":
        if not name:
            raise InvalidInput("say which user: careline user add NAME --role agent")
        _add(use(ctx).engine, name, role, display_name, password)
    elif action == "list":
        _list(use(ctx).engine)
    else:
        raise InvalidInput(f"unknown action {action!r}; use add or list")


def _add(engine: Engine, name: str, role: str, display_name: str | None, password: str | None) -> None:
    from sqlmodel import Session

    from careline.services import users

    if password is None:
        password = typer.prompt("Password (8+ characters)", hide_input=True, confirmation_prompt=True)
    with Session(engine) as session:
        user = users.create_user(session, name, password, role=role, display_name=display_name, actor="cli")
        console.print(f"User [bold]{user.username}[/] saved with role {user.role}.")


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
