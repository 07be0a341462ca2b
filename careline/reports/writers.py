"""Writing report files: atomically (temp file in the same folder, then os.replace) and safely.

Mention text is untrusted. In CSV a cell starting with = + - @ (or a tab/CR) is prefixed with an
apostrophe so spreadsheet programs show it instead of evaluating it (OWASP "CSV injection"). In XLSX
every text is written as a string cell (never a formula), which Excel and LibreOffice do not evaluate.
"""
from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import xlsxwriter

XLSX_MAX_CELL = 32_767
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return "" if value is None else value


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


class Sheet:
    """One worksheet written row by row (xlsxwriter's constant-memory mode needs rows in order)."""

    def __init__(self, book: "xlsxwriter.Workbook", name: str, header: Sequence[str], bold: Any) -> None:
        self.ws = book.add_worksheet(name)
        self.row_no = 0
        self._write(header, bold)
        self.ws.freeze_panes(1, 0)

    def _write(self, values: Sequence[Any], fmt: Any = None) -> None:
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, bool):
                self.ws.write_boolean(self.row_no, col, value)
            elif isinstance(value, (int, float)):
                self.ws.write_number(self.row_no, col, value)
            else:
                text = value.isoformat() if isinstance(value, (datetime, date)) else str(value)
                if len(text) > XLSX_MAX_CELL:
                    text = text[: XLSX_MAX_CELL - 1] + "…"
                self.ws.write_string(self.row_no, col, text, fmt)
        self.row_no += 1

    def row(self, values: Sequence[Any]) -> None:
        self._write(values)

    def note(self, text: str) -> None:
        self._write([text])


def open_workbook(target: Path | io.BytesIO) -> "xlsxwriter.Workbook":
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    if isinstance(target, io.BytesIO):
        options["in_memory"] = True
    else:
        options["constant_memory"] = True
    return xlsxwriter.Workbook(target, options)
