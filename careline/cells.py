"""A CSV cell a spreadsheet shows rather than runs: the one guard against formula ("CSV") injection.

Mention text, handles and audit details are untrusted. A cell starting with = + - @ (or a tab/CR) is
prefixed with an apostrophe so spreadsheet programs show it instead of evaluating it (OWASP "CSV
injection"). The reports (careline/reports/writers.py), the search export, the advocates list, the audit
log and a customer's data export all write cells through `csv_safe`; a leaf, so any of them may import it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_DANGEROUS_FIRST = frozenset(_DANGEROUS)


def csv_safe(value: Any) -> Any:
    if type(value) is str:  # the hot path: most cells are text
        return "'" + value if value[:1] in _DANGEROUS_FIRST else value
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return "" if value is None else value
