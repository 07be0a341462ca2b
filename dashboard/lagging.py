"""Figures a page shows on every run that may lag by seconds: served at once, refreshed in the background.

`st.cache_data(ttl=...)` makes whichever click comes after the TTL wait for the recomputation. At 1,000,000
mentions that hit the saved views' counts in the navigation (every 30 s, in app.py, before any page draws):
profiling the served app under benchmarks/dashboard_browser.py --search-repeats (SQLite 1M, load 2-3), two
of twelve runs spent 2.4 and 2.5 s there, and the search that met one took 3.1 s to draw against
0.15-0.4 s for the others (measured directly, warm: 90-200 ms at the old 10,000 cap, 18-21 ms at 1,000).
Here a value older than its TTL is still answered at once and one background thread per value recomputes
it, so the next run shows the new figure; a live refresh (dashboard/live.py) reruns the page within
seconds of any change in the data.

Values are keyed by the database URL too (tests give each test its own database), read-only for callers
(each caller gets a copy), and dropped after ten idle minutes.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

from dashboard.components import settings

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_DROP_SECONDS = 600


@dataclass
class _Entry:
    value: Any
    computed_at: float
    read_at: float
    refreshing: bool = False


@st.cache_resource(show_spinner=False)
def _store() -> tuple[threading.Lock, dict[Hashable, _Entry]]:
    """One store per server process, shared by every browser session (like st.cache_data)."""
    return threading.Lock(), {}


def value(fn: Callable[..., T], *args: Hashable, ttl: float) -> T:
    """fn(*args), computed at most once per `ttl` seconds per arguments, never waited for after the first time."""
    lock, entries = _store()
    key = (settings().url, fn.__module__, fn.__qualname__, args)
    now = time.monotonic()
    with lock:
        entry = entries.get(key)
        if entry is not None:
            entry.read_at = now
            stale = now - entry.computed_at > ttl and not entry.refreshing
            if stale:
                entry.refreshing = True
    if entry is None:  # the first time: nothing to show yet, so this run computes it
        result = fn(*args)
        with lock:
            for old in [k for k, e in entries.items() if now - e.read_at > IDLE_DROP_SECONDS]:
                del entries[old]
            entries[key] = _Entry(result, time.monotonic(), now)
        return copy.deepcopy(result)
    if stale:
        threading.Thread(target=_refresh, args=(lock, entry, fn, args), name="careline-lagging",
                         daemon=True).start()
    return copy.deepcopy(entry.value)  # type: ignore[no-any-return]


def _refresh(lock: threading.Lock, entry: _Entry, fn: Callable[..., Any], args: tuple[Hashable, ...]) -> None:
    try:
        result = fn(*args)
    except Exception:  # noqa: BLE001 - keep showing the last figure; the next stale read tries again
        log.exception("background refresh of %s failed", fn.__qualname__)
        with lock:
            entry.refreshing = False
        return
    with lock:
        entry.value, entry.computed_at, entry.refreshing = result, time.monotonic(), False


def clear() -> None:
    """Forget every value (tests: beside st.cache_data.clear(), so a page opened again reads afresh)."""
    lock, entries = _store()
    with lock:
        entries.clear()
