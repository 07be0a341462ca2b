"""The one CLI context: Settings, the engine, logging and `--verbose`, built once per invocation.

Every command takes `ctx: typer.Context` as its first parameter and asks `use(ctx)` for what it needs:

    def hello_cmd(ctx: typer.Context, name: str) -> None:
        state = use(ctx)
        with Session(state.engine) as session: ...

`careline --verbose COMMAND` sets the level for every command alike (the root callback in cli.py stores it
here), so a command never configures logging itself. Settings and the engine are built lazily: `--help`
and commands that need no database never read the environment. Command modules import this module, never
`careline.cli`, so there is no import cycle; cli.py imports each command module and calls its `register`.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from careline.settings import Settings


@dataclass
class CliContext:
    """What a command needs from its surroundings; `ctx.obj` of the typer context."""

    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The validated settings; the first use also sets up logging (file log + terminal at the chosen level)."""
        if self._settings is None:
            from careline.console import setup_logging
            from careline.settings import get_settings

            self._settings = get_settings()
            setup_logging(self._settings.data_dir, self.verbose)
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        """A command may narrow the settings (e.g. `classify --model`); the engine follows the new URL."""
        self._settings = value
        self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from careline.db import get_engine

            self._engine = get_engine(self.settings.url)
        return self._engine

    def start_logging(self) -> None:
        """Set logging up now (it is set up by the first use of `settings` anyway), for commands that
        need the file log before they touch the settings."""
        _ = self.settings

    def be_verbose(self) -> None:
        """A command's own `--verbose` (kept for `careline train -v`) raises the level like the global one."""
        self.verbose = True
        from careline.console import set_verbose

        set_verbose(True)


def use(ctx: typer.Context) -> CliContext:
    """The invocation's context (made here when a command is run without the root callback, e.g. in tests)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    ctx.obj = root.obj
    return root.obj


def actor(name: str | None = None) -> str:
    """Who the audit log names for a CLI action: `--as NAME`, else cli:<login>."""
    if name:
        return name
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
