"""Python's cyclic garbage collector: held off around one bulk step (an ingest batch, an escalation scan),
and kept off the objects a process builds at start-up (`freeze_start_up`).

Why: a bulk step keeps tens of thousands of short-lived rows, dicts and tuples alive until it returns, so
the collections that run meanwhile find nothing to free, move them all into the oldest generation, and
every so often trigger a pass over the whole heap (SQLAlchemy's metadata, settings, the model...).
Measured: an escalation drain at 1M ran the collector ~180 times, 92 ms of a 1.13 s drain, 69 ms of it one
full pass (SQLite, load 4); a first ingest of 20,000 posts in batches of 1,000 spent 0.5-0.7 s of 4.3-4.9 s
in full passes (gc.callbacks timing, load 0.8). Reference counting frees the step's objects as it goes;
what is cyclic waits for the next collection.

The collector is process-wide: while a step runs, the process's other threads get no cyclic collection
either (a batch or a scan takes ~0.2-2 s). If it is already off (a test, an embedding process, another
thread's step), it is left as found, so the first step to end turns it back on.

Start-up: the modules, SQLAlchemy's metadata and mappers, pydantic's schemas and the settings live as long
as the process, yet every full collection walks them all again. Measured: with the dashboard's libraries
imported (Streamlit, pandas, Altair, scikit-learn; ~250,000 tracked objects) one full pass took 150-180 ms,
paid by whichever request triggered it; a fresh `careline search` process on PostgreSQL paid one during its
first search, 88-115 ms → 41-50 ms with them frozen (1,000,000 mentions, warm cache, load 0.5).
`gc.freeze()` moves what exists into the permanent generation, which collections skip; reference counting
still frees those objects, so only a cycle already garbage at that moment is never reclaimed.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False


@contextmanager
def gc_paused(collect_after: int | None = None) -> Iterator[None]:
    """Hold the cyclic collector off for the block; with `collect_after`, collect that generation after
    it (escalation's scans leave cycles behind that are worth freeing at once)."""
    if not gc.isenabled():  # someone else manages it: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        if collect_after is not None:
            gc.collect(collect_after)


def freeze_start_up(again: bool = False) -> None:
    """Keep what the process has built so far out of every later collection (see the module docstring).
    Once per process: the first engine (careline/db.py get_engine) is when a process has imported what its
    work needs; `again` is for a later, known point, the dashboard's warm-up after its libraries."""
    global _frozen
    if _frozen and not again:
        return
    _frozen = True
    gc.freeze()
