"""What the dashboard prepares in the background once per server, so no page request pays for it:
the charting stack (the first Trends visit saves ~2 s), scikit-learn and SciPy for themes (~2 s more on
the first Trends or theme filter; a fresh import also ran clustering before its single-thread limit,
see careline/services/clustering.py) and the reply-suggestion index of every own brand (5.7 s at
100,000 sent replies under load 7, which the first opened mention would otherwise wait for). Then what
the process holds is frozen out of the cyclic collector: with these libraries a full collection took
150-180 ms of whichever request triggered it (careline/gcpause.py)."""
from __future__ import annotations

import logging
import threading

import streamlit as st
from sqlmodel import Session

from careline.gcpause import freeze_start_up

log = logging.getLogger(__name__)


def _import_libraries() -> None:
    import altair  # noqa: F401
    import pandas  # noqa: F401

    import careline.services.clustering  # noqa: F401 - scikit-learn and SciPy, for themes


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
    _import_libraries()
    _build_suggestion_index()
    freeze_start_up(again=True)


@st.cache_resource(show_spinner=False)
def start() -> bool:
    """Start the warm-up thread (once per server process: cached as a resource)."""
    threading.Thread(target=_run, name="careline-warm-up", daemon=True).start()
    return True
