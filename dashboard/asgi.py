"""The dashboard as an ASGI app (st.App): Streamlit's own routes plus two for the session cookie.

Streamlit pages talk over a WebSocket and cannot send HTTP headers, so page code can neither set nor clear
an HttpOnly cookie. These routes can: after a sign-in the page POSTs its one-time hand-off code to
/api/session and gets `Set-Cookie: careline_session=...; HttpOnly; SameSite=Strict`; /api/sign-out clears
it. Page scripts never see the cookie value, and the code is useless after one use or a minute.
`careline serve` runs this file; `streamlit run dashboard/asgi.py` finds the `app` object itself.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from careline.console import setup_logging
from careline.db import get_engine
from careline.services import sessions
from careline.settings import get_settings
from dashboard import warmup

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
# The dashboard is its own process (streamlit run): give it the CLI's handlers, so what our modules and the
# libraries (apprise, httpx...) log here goes through the same secret-redacting filter into careline.log.
setup_logging(get_settings().data_dir)


def _same_origin(request: Request) -> bool:
    """Refuse cross-site POSTs (login CSRF): the Origin header must name the host the request came to."""
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


def _redeem(code: str) -> str | None:
    settings = get_settings()
    with Session(get_engine(settings.url)) as session:
        return sessions.redeem_handoff(session, code, settings)


async def set_session_cookie(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    code = (await request.body()).decode("utf-8", "replace").strip()[:200]
    value = await run_in_threadpool(_redeem, code)
    if value is None:
        return Response("unknown or expired sign-in code", status_code=400)
    response = Response(status_code=204)
    response.set_cookie(sessions.COOKIE, value, max_age=sessions.cookie_max_age(get_settings()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def clear_session_cookie(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@asynccontextmanager
async def _lifespan(_app: Any) -> AsyncIterator[None]:
    """The libraries and the reply-suggestion index while the server starts, before the first browser
    connects (dashboard/warmup.py says what that saves the first sign-in). In the server's start, not at
    import: a process that only imports this module (a test, a tool) would exit with the warm-up thread
    still inside a C extension's import, which aborts the interpreter ("exception not rethrown")."""
    warmup.begin()
    yield


app = st.App(HERE / "app.py", lifespan=_lifespan, routes=[
    Route("/api/session", set_session_cookie, methods=["POST"]),
    Route("/api/sign-out", clear_session_cookie, methods=["POST"]),
])
