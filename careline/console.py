"""Terminal helpers for the CLI: logging setup, progress bars with an ETA, one-sentence failures."""
from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from careline.redact import RedactingFilter as _RedactingFilter  # noqa: E402

console = Console(stderr=True, soft_wrap=True)
# The filter lives in careline/redact.py (one home for what counts as secret); re-exported here.
RedactingFilter = _RedactingFilter


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (test runners swap it), not the one seen at start-up."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


_stderr_handler: logging.Handler | None = None


def setup_logging(data_dir: Path, verbose: bool = False) -> Path | None:
    """The file log (DEBUG and up, in the data directory) and the terminal (WARNING, or DEBUG with --verbose).

    Configures once per process; a later call only applies its `verbose` (tests run many commands)."""
    global _stderr_handler
    root = logging.getLogger()
    if getattr(root, "_careline_configured", False):
        set_verbose(verbose)
        return None
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    log_path: Path | None = None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / "careline.log"
        fh = logging.handlers.RotatingFileHandler(log_path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        fh.addFilter(RedactingFilter())
        root.addHandler(fh)
    except OSError:
        log_path = None
    sh = _StderrHandler()
    sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
    sh.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    sh.addFilter(RedactingFilter())
    # records marked file_only (a failure's traceback) belong in the log; the terminal got one sentence
    sh.addFilter(lambda record: not getattr(record, "file_only", False))
    root.addHandler(sh)
    _stderr_handler = sh
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._careline_configured = True  # type: ignore[attr-defined]
    return log_path


def set_verbose(verbose: bool) -> None:
    """DEBUG on the terminal (and in the log) with --verbose; the defaults otherwise."""
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    if _stderr_handler is not None:
        _stderr_handler.setLevel(logging.DEBUG if verbose else logging.WARNING)


class Bar:
    """One row of a progress display: call it to advance, `update` to set done/total, `add` for another row."""

    def __init__(self, display: Progress, task: TaskID | None) -> None:
        self._display = display
        self.task: TaskID = task  # type: ignore[assignment]  # None only for a display without a first row

    def __call__(self, n: int = 1) -> None:
        self._display.advance(self.task, n)

    def update(self, completed: float | None = None, total: float | None = None, **fields: Any) -> None:
        self._display.update(self.task, completed=completed, total=total, **fields)

    def finish(self) -> None:
        """Mark the row complete (a row whose total was never known shows as done)."""
        row = self._display.tasks[self.task]
        end = row.total if row.total is not None else max(row.completed, 1)
        self._display.update(self.task, completed=end, total=end)

    @property
    def elapsed(self) -> float:
        return self._display.tasks[self.task].elapsed or 0.0

    def add(self, description: str, total: float | None = None, **fields: Any) -> Bar:
        return Bar(self._display, self._display.add_task(description, total=total, **fields))


@contextmanager
def progress(description: str | None, total: float | None = None, *, middle: str | None = None, transient: bool = False,
             **fields: Any) -> Iterator[Bar]:
    """The one progress display of the CLI: description, bar, done/total, optional `middle` column (a rate
    or a unit, e.g. "{task.fields[rate]:.0f}/s" with rate=0.0 in `fields`), elapsed time and an ETA.

    Yields a Bar: `advance(n)` still reads as before (`with progress(...) as advance: advance(1)`). With no
    description the display starts empty and `bar.add(...)` adds its rows."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if middle:
        columns.append(TextColumn(middle))
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=transient) as display:
        yield Bar(display, None if description is None else display.add_task(description, total=total, **fields))
