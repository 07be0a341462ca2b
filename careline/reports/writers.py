"""Writing report files: atomically (temp file in the same folder, then os.replace) and safely.

Mention text is untrusted. In CSV a cell starting with = + - @ (or a tab/CR) is prefixed with an
apostrophe so spreadsheet programs show it instead of evaluating it (OWASP "CSV injection"). In XLSX
(xlsx.py) every text is an inline string cell, never a formula, which spreadsheets do not evaluate.
"""
from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from careline.cells import csv_safe as csv_safe  # the one guard; reports, exports and audit use it


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yields a temporary path beside `target`; it replaces `target` only if the block succeeds."""
    # Not mkstemp: its 0600 mode would survive os.replace; O_EXCL with 0666 lets the umask decide.
    tmp = str(target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_text(target: Path) -> Iterator[IO[str]]:
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh


class CsvTable:
    """A CSV writer whose every text cell goes through `csv_safe`. UTF-8 with BOM so Excel reads accents."""

    def __init__(self, fh: IO[str], header: Sequence[str]) -> None:
        fh.write("\ufeff")
        self._w = csv.writer(fh)
        self._w.writerow(header)

    def row(self, values: Sequence[Any]) -> None:
        self._w.writerow([csv_safe(v) for v in values])

    def row_guarded(self, values: list[Any], untrusted: Sequence[int]) -> None:
        """A faster row for wide tables: only the `untrusted` columns can hold text from outside
        (the others must be numbers, booleans, None or our own fixed words)."""
        for i in untrusted:
            values[i] = csv_safe(values[i])
        self._w.writerow(values)


def write_csv(target: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with atomic_text(target) as fh:
        table = CsvTable(fh, header)
        for row in rows:
            table.row(row)
    return target


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO(newline="")
    table = CsvTable(buf, header)
    for row in rows:
        table.row(row)
    return buf.getvalue().encode("utf-8")
