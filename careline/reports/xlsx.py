"""A small streaming XLSX writer: sheets of plain values, written row by row straight into the zip.

Why not xlsxwriter: at ~10 µs per cell it spent most of the 1M-mention benchmark's budget on the raw
mentions sheet (500k cells); building each row's XML with one join is ~10× faster. What it supports is
what reports need: text, numbers, booleans, a bold frozen header. Every text is an inline string cell
(t="inlineStr"), never a formula, so a mention starting with "=" is shown, not evaluated.
"""
from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

MAX_CELL = 32_767  # Excel's limit on characters in a cell
MAX_ROWS = 1_048_576
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_T = '<t xml:space="preserve">'
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _col(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        name = chr(65 + rem) + name
    return name


_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str) -> str:
    if len(value) > MAX_CELL:
        value = value[: MAX_CELL - 1] + "…"
    if _SPECIAL.search(value) is None:  # the common case: nothing to escape
        return value
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("\ufffd", value)
    return escape(value)


class Sheet:
    def __init__(self, book: "Workbook", name: str, header: Sequence[str]) -> None:
        self.book, self.name, self.row_no = book, name, 0
        self._cols: list[str] = []
        self._buf: list[str] = []
        self._fh: IO[bytes] = book._zip.open(f"xl/worksheets/sheet{len(book.sheets)}.xml", "w", force_zip64=True)
        self._fh.write((f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><sheetViews><sheetView workbookViewId="0">'
                        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
                        '</sheetViews><sheetData>').encode())
        self._write(header, style=' s="1"')

    def _write(self, values: Sequence[Any], style: str = "") -> None:
        if self.row_no >= MAX_ROWS:
            raise ValueError(f"sheet {self.name} is full ({MAX_ROWS:,} rows, Excel's limit)")
        self.row_no += 1
        r = str(self.row_no)
        while len(self._cols) < len(values):
            self._cols.append(_col(len(self._cols)))
        cells = [f'<row r="{r}">']
        for col, value in zip(self._cols, values):
            kind = type(value)
            if kind is str:
                cells.append(f'<c r="{col}{r}" t="inlineStr"{style}><is>{_T}{_text(value)}</t></is></c>')
            elif value is None:
                continue
            elif kind is bool:
                cells.append(f'<c r="{col}{r}" t="b"><v>{int(value)}</v></c>')
            elif kind is int or (kind is float and math.isfinite(value)):
                cells.append(f'<c r="{col}{r}"><v>{value!r}</v></c>')
            else:
                text = value.isoformat() if isinstance(value, (datetime, date)) else str(value)
                cells.append(f'<c r="{col}{r}" t="inlineStr"{style}><is>{_T}{_text(text)}</t></is></c>')
        cells.append("</row>")
        self._buf.append("".join(cells))
        if len(self._buf) >= 500:
            self._flush()

    def _flush(self) -> None:
        self._fh.write("".join(self._buf).encode())
        self._buf.clear()

    def row(self, values: Sequence[Any]) -> None:
        self._write(values)

    def note(self, text: str) -> None:
        self._write([text])

    def close(self) -> None:
        if not self._fh.closed:
            self._flush()
            self._fh.write(b"</sheetData></worksheet>")
            self._fh.close()


class Workbook:
    """Sheets are written one after another (a zip takes one open member at a time)."""

    def __init__(self, target: Path | IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.sheets: list[Sheet] = []

    def add_sheet(self, name: str, header: Sequence[str]) -> Sheet:
        if self.sheets:
            self.sheets[-1].close()
        self.sheets.append(Sheet(self, name[:31], header))
        return self.sheets[-1]

    def close(self) -> None:
        if self.sheets:
            self.sheets[-1].close()
        n = len(self.sheets)
        z = self._zip
        z.writestr("[Content_Types].xml", _HEAD + f'<Types xmlns="{_PKG}/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                             for i in range(n)) + "</Types>")
        z.writestr("_rels/.rels", _HEAD + f'<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
                   f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", _HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
                   + "".join(f'<sheet name="{escape(s.name, {chr(34): "&quot;"})}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                             for i, s in enumerate(self.sheets)) + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", _HEAD + f'<Relationships xmlns="{_PKG}/relationships">'
                   + "".join(f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                             for i in range(n))
                   + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", _HEAD + f'<styleSheet xmlns="{_MAIN}">'
                   '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
                   '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
                   '<fills count="2"><fill><patternFill patternType="none"/></fill>'
                   '<fill><patternFill patternType="gray125"/></fill></fills>'
                   '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                   '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                   '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
                   '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
                   '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
                   "</styleSheet>")
        z.close()
