"""Terminal helpers for the CLI: logging setup, progress bars with an ETA, one-sentence failures."""
from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, soft_wrap=True)
_SECRET_RES = (
    # a whole Authorization header value (Bearer, OAuth 1.0a parameter lists, Basic)
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\n]+)"),
    re.compile(r"(?i)(bearer\s+)([^\s&'\",}]+)"),
    re.compile(r"(?i)((?:token|password|secret|signature)['\"]?\s*[=:]\s*['\"]?)([^\s&'\",}]+)"),
)


class RedactingFilter(logging.Filter):
    """Belt and braces: tokens are SecretStr everywhere, but a library may still log a header."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = original = record.getMessage()
        for pattern in _SECRET_RES:
            msg = pattern.sub(r"\1***", msg)
        if msg != original:
            record.msg, record.args = msg, ()
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (test runners swap it), not the one seen at start-up."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


def setup_logging(data_dir: Path, verbose: bool = False) -> Path | None:
    root = logging.getLogger()
    if getattr(root, "_careline_configured", False):
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
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._careline_configured = True  # type: ignore[attr-defined]
    return log_path


@contextmanager
def progress(description: str, total: int | None) -> Iterator[callable]:  # type: ignore[valid-type]
    """Yields advance(n); shows done/total, elapsed and an ETA."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
