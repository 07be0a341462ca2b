"""The streaming XLSX writer: openpyxl reads it back, with hostile text shown as text."""
from __future__ import annotations

import io

import openpyxl

from careline.reports.writers import csv_safe
from careline.reports.xlsx import MAX_CELL, Workbook


def test_round_trip_with_hostile_text() -> None:
    buf = io.BytesIO()
    book = Workbook(buf)
    book.add_sheet("Summary", ["a", "b"]).row([1, 2.5])
    sheet = book.add_sheet("Mentions", ["n", "flag", "text", "none", "more"])
    evil = ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "<b>&amp;</b>", "bell\x07 nul\x00", "x" * 40_000, "😡 ünï"]
    for i, text in enumerate(evil):
        sheet.row([i, i % 2 == 0, text, None, float("nan")])
    book.close()
    wb = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))
    assert wb.sheetnames == ["Summary", "Mentions"]
    assert wb["Summary"]["B2"].value == 2.5
    ws = wb["Mentions"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    texts = [ws.cell(row=r, column=3) for r in range(2, 2 + len(evil))]
    assert all(c.data_type == "s" for c in texts)
    assert [c.value for c in texts[:5]] == evil[:5]
    assert texts[5].value == "bell\ufffd nul\ufffd"
    assert len(texts[6].value) == MAX_CELL and texts[6].value.endswith("…")
    assert texts[7].value == "😡 ünï"
    assert ws["B2"].value is True and ws["D2"].value is None and ws["E2"].value == "nan"


def test_csv_cells_that_would_run_are_quoted() -> None:
    assert [csv_safe(v) for v in ["=1+1", "+1", "-1", "@x", "\tx", "safe", "", 3, None]] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "safe", "", 3, ""]
