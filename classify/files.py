"""Reading posts from a file for `careline classify --input`: JSONL, CSV or plain text, one post per
line, record by record, so one bad line costs only itself (its line number and reason are reported)."""
from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class NoTextColumn(ValueError):
    """A CSV whose header names no text column: there is nothing to classify (one sentence)."""


TEXT_FIELDS = ("text", "content", "body", "message", "tweet", "post")
ID_FIELDS = ("id", "external_id", "tweet_id", "post_id")


@dataclass
class Record:
    line: int
    text: str
    id: str | None = None


def _pick(row: dict, names: tuple[str, ...]) -> object | None:
    lower = {str(k).lower(): v for k, v in row.items()}
    return next((lower[n] for n in names if lower.get(n) not in (None, "")), None)


MAX_TEXT = 1_000_000     # characters: far above any post; a field beyond this is not a post
MAX_RECORD_LINES = 200   # a quoted CSV field may span lines; one still open this far on is unterminated


def _usable(text: object, line: int, problems: list[tuple[int, str]], what: str = "text") -> str | None:
    """The text, or None with the line's reason in `problems` (empty, too long, invalid Unicode)."""
    if not isinstance(text, str) or not text.strip():
        problems.append((line, f"empty {what}" if what != "text" or text in (None, "") else "no text"))
        return None
    if len(text) > MAX_TEXT:
        problems.append((line, f"the text is {len(text):,} characters (limit {MAX_TEXT:,})"))
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.append((line, "the text has a lone surrogate (not valid Unicode, e.g. \\ud800)"))
        return None
    return text


def _ident(value: object) -> str | None:
    if value is None:
        return None
    ident = str(value)
    try:
        ident.encode("utf-8")
    except UnicodeEncodeError:
        return ident.encode("utf-8", "replace").decode("utf-8")
    return ident


def read_records(path: Path, problems: list[tuple[int, str]]) -> Iterator[Record]:
    """Posts from JSONL (an object with a text field, or a JSON string), CSV (a text column, or the
    only column) or plain text, one post per line. Unusable lines go to `problems` as
    (line number, reason) and are skipped; the rest are read. A CSV without a text column raises
    NoTextColumn (one sentence, nothing to classify)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", errors="replace", newline="" if suffix == ".csv" else None) as fh:
        if suffix == ".csv":
            yield from _csv_records(fh, problems)
            return
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                problems.append((n, "empty line"))
                continue
            if suffix in (".jsonl", ".ndjson", ".json"):
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    problems.append((n, f"not JSON ({getattr(exc, 'msg', 'nested too deep')})"))
                    continue
                if isinstance(obj, str):
                    obj = {"text": obj}
                text = _pick(obj, TEXT_FIELDS) if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    problems.append((n, "no text field"))
                    continue
                text = _usable(text, n, problems)
                if text is not None:
                    yield Record(n, text, _ident(_pick(obj, ID_FIELDS)))  # type: ignore[arg-type]
            else:
                text = _usable(line, n, problems)
                if text is not None:
                    yield Record(n, text)


def _csv_rows(fh: Iterator[str], problems: list[tuple[int, str]], width: list[int]
              ) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per CSV record, read record by record so one bad quote costs one line.

    Python's csv reader, left alone, lets an unterminated quote swallow every row after it (and raises
    on a field over 128 KiB, failing the whole file). Here each record is parsed strictly on its own;
    a record that is still inside quotes after MAX_RECORD_LINES lines (or at the end of the file), or
    that csv rejects, is reported by its first line and parsing restarts on the next line. A record that
    spans lines but has another number of fields than the header (`width`, once known) is a stray quote
    that happened to meet another one: reported the same way, so the rows it swallowed are read.
    """
    source = iter(fh)
    ahead: deque[str] = deque()  # lines read for a record that failed: read again from its second line
    taken = 0  # number of the last line taken

    def take() -> str | None:
        return ahead.popleft() if ahead else next(source, None)

    while True:
        first = take()
        if first is None:
            return
        taken += 1
        start, used, error = taken, [first], None
        while True:
            try:
                rows = list(csv.reader(io.StringIO("".join(used)), strict=True))
                break
            except csv.Error as exc:
                open_quote = "unexpected end of data" in str(exc)
                following = take() if open_quote and len(used) <= MAX_RECORD_LINES else None
                if following is not None:
                    used.append(following)
                    continue
                error = "an unterminated quote" if open_quote else f"malformed CSV ({exc})"
                break
        if error is None and len(used) > 1 and width and rows and len(rows[0]) != width[0]:
            error = "an unterminated quote"
        if error is not None:
            problems.append((start, error))
            ahead.extendleft(reversed(used[1:]))
            continue
        taken = start + len(used) - 1
        if len(rows) == 1:
            yield start, rows[0]
        else:
            problems.append((start, "empty line"))


def _csv_records(fh: Iterator[str], problems: list[tuple[int, str]]) -> Iterator[Record]:
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, MAX_TEXT * 4))  # our own limit (MAX_TEXT) says which line is too long
    try:
        width: list[int] = []
        rows = _csv_rows(fh, problems, width)
        first = next(rows, None)
        if first is None:
            return
        fields = [f.strip() for f in first[1]]
        width.append(len(fields))
        lower = [f.lower() for f in fields]
        col_text = next((lower.index(n) for n in TEXT_FIELDS if n in lower), 0 if len(fields) == 1 else None)
        if col_text is None:
            raise NoTextColumn(f"The CSV has no text column (its header is {', '.join(fields)[:200]}; name one "
                               f"of {', '.join(TEXT_FIELDS)}), so there is nothing to classify.")
        col_id = next((lower.index(n) for n in ID_FIELDS if n in lower), None)
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                problems.append((line, "empty line"))
                continue
            text = _usable(row[col_text] if col_text < len(row) else None, line, problems)
            if text is not None:
                ident = row[col_id] if col_id is not None and col_id < len(row) and row[col_id] != "" else None
                yield Record(line, text, _ident(ident))
    finally:
        csv.field_size_limit(old_limit)


def chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)
