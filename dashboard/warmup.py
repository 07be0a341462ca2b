"""What the dashboard prepares in the background once per server, so no page request pays for it:
the charting stack (the first Trends visit saves ~2 s), scikit-learn and SciPy for themes (~2 s more on
the first Trends or theme filter; a fresh import also ran clustering before its single-thread limit,
see careline/services/clustering.py) and the reply-suggestion index of every own brand (5.7 s at
100,000 sent replies under load 7, which the first opened mention would otherwise wait for). Then what
the process holds is frozen out of the cyclic collector: with these libraries a full collection took
150-180 ms of whichever request triggered it (careline/gcpause.py).

It starts when the server starts (dashboard/asgi.py's lifespan, before `careline serve` accepts a
browser), not at the first page run: started there, it was still importing scikit-learn when the first
agent signed in, and the two shared the interpreter: first sign-in → inbox drawn took 4.98 s against
1.58 s for a later one (benchmarks/dashboard_browser.py, demo data, load 2.0). AppTest runs app.py
without asgi.py, so the first page run starts it there; either way it runs once per process."""
from __future__ import annotations

import importlib
import logging
import threading
import time

from sqlmodel import Session

from careline.gcpause import freeze_start_up

log = logging.getLogger(__name__)
_lock = threading.Lock()
_begun = False


# In this order: first what the sign-in page and the inbox import, so the first page run finds them loaded,
# then the charting stack, then scikit-learn and SciPy for themes (careline.services.clustering).
_MODULES = ("dashboard.auth", "dashboard.components", "dashboard.views_nav", "dashboard.detail",
            "dashboard.export_panel", "dashboard.live", "dashboard.themes_panel", "altair", "pandas",
            "careline.services.clustering")


def _import_libraries() -> None:
    for name in _MODULES:
        importlib.import_module(name)


def _build_suggestion_index() -> None:
    from careline.db import get_engine
    from careline.services import suggestions
    from careline.settings import get_settings

    try:
        with Session(get_engine(get_settings().url)) as session:
            suggestions.warm(session)
    except Exception as exc:  # noqa: BLE001 - the first opened mention then builds it; said in the log
        log.warning("reply suggestions were not prepared at start (%s); the first opened mention builds them", exc)


def _run() -> None:
    started = time.perf_counter()
    _import_libraries()
    _build_suggestion_index()
    freeze_start_up(again=True)
    log.info("dashboard warm-up done in %.1f s", time.perf_counter() - started)


def begin() -> bool:
    """Start the warm-up thread unless this process already has (True: started now). Called by the
    server's start and by every page run (a lock and a flag: AppTest runs pages without the server)."""
    global _begun
    with _lock:
        if _begun:
            return False
        _begun = True
    threading.Thread(target=_run, name="careline-warm-up", daemon=True).start()
    return True

