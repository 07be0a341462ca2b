"""Shared pieces for the dashboard pages: sessions, safe display of untrusted text, role guards.

Mention text, author names and URLs come from strangers. They are shown only through widgets that never
parse Markdown or HTML (st.text, disabled text areas, dataframe cells), after `clean()` removes bidi
overrides and invisible characters that could reorder or hide what a person reads.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import streamlit as st
from sqlmodel import Session

from careline.db import get_engine
from careline.errors import CarelineError
from careline.services import users
from careline.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bidi embeddings/overrides/isolates and marks, zero-width and other invisible format characters.
_INVISIBLE = re.compile("[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u180e\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=&^\"'])")


def clean(text: str | None, limit: int | None = None) -> str:
    """Text safe to lay out: no direction overrides or invisible characters; optionally shortened."""
    if not text:
        return ""
    text = _INVISIBLE.sub("", text)
    # A zero-width joiner stays only inside emoji sequences, where it is part of the picture.
    text = "".join(
        ch for i, ch in enumerate(text)
        if ch != "\u200d" or (0 < i < len(text) - 1 and _emojiish(text[i - 1]) and _emojiish(text[i + 1]))
    )
    text = _CONTROL.sub(" ", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _emojiish(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or unicodedata.category(ch) == "So" or ch == "\ufe0f"


def one_line(text: str | None, limit: int = 160) -> str:
    return " ".join(clean(text).split())[:limit] + ("…" if len(" ".join(clean(text).split())) > limit else "")


def ref(row_id: int | None) -> str:
    """A row reference for a table cell ("#123", or "" for none). A column mixing numbers and "" made Arrow
    fail to convert it (Streamlit logged a traceback for every Alerts and Audit table with an empty cell)."""
    return f"#{row_id}" if row_id else ""


def md_escape(text: str | None, limit: int = 200) -> str:
    """Every Markdown-significant character backslash-escaped, for the rare label that must be Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text, limit))


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link to a host, else None (no javascript:, data:, relative...)."""
    if not url:
        return None
    url = url.strip()
    if _INVISIBLE.search(url) or _CONTROL.search(url) or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def settings() -> Settings:
    return get_settings()


@contextmanager
def db() -> Iterator[Session]:
    with Session(get_engine(settings().url), expire_on_commit=False) as session:
        yield session


def check_database() -> str | None:
    """One sentence if the database can't be used (unreachable, not initialised), else None."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from careline.db import describe_db_error

    try:
        with db() as session:
            users.list_users(session)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("database check failed: %s", exc)
        return describe_db_error(exc)
    return None


def current_user() -> dict[str, str] | None:
    return st.session_state.get("user")


def refresh_user() -> dict[str, str] | None:
    """Re-read the signed-in user from the database: a revoked session, a disabled or removed user, or a new
    role counts from this interaction on, in every open tab. Two primary-key reads."""
    from careline.services import sessions

    user = current_user()
    if not user:
        return None
    with db() as session:
        sid = st.session_state.get("session_id")
        fresh = (sessions.check(session, sid, settings()) if sid is not None
                 else users.get(session, user["username"]))
        if fresh is not None and not fresh.active:
            fresh = None
    if fresh is None:
        for key in ("user", "session_id"):
            st.session_state.pop(key, None)
        st.session_state["signed_out_reason"] = ("Your session has ended (signed out, expired, or your account "
                                                 "was changed by an admin); please sign in again.")
        return None
    if fresh.role != user["role"] or (fresh.display_name or fresh.username) != user["display_name"]:
        log.info("%s's role is now %s (was %s)", fresh.username, fresh.role, user["role"])
        user = {"username": fresh.username, "role": fresh.role, "display_name": fresh.display_name or fresh.username}
        st.session_state["user"] = user
    return user


def require_user() -> dict[str, str]:
    """The signed-in user as the database has it now, or stop the page (pages run standalone in tests, so
    each checks; a fragment's timed rerun checks again)."""
    had_user = current_user() is not None
    user = refresh_user()
    if not user:
        if had_user:
            st.rerun(scope="app")  # the whole app again: app.py shows the sign-in page and why
        st.warning("Please sign in.")
        st.stop()
    return user  # type: ignore[return-value]


class PageEnded(Exception):
    """A page ended its run early through `end_page`; `app_pages` catches it."""


_IN_APP: ContextVar[bool] = ContextVar("careline_in_app_pages", default=False)


@contextmanager
def app_pages() -> Iterator[None]:
    """Around app.py's `nav.run()`: a page that calls `end_page` ends there and the run still finishes
    normally, so Streamlit forgets the fragments of the page before (app.py's docstring says why that
    matters: a late live tick of a forgotten fragment is dropped, one of a kept fragment blanks the page)."""
    token = _IN_APP.set(True)
    try:
        yield
    except PageEnded:
        pass
    finally:
        _IN_APP.reset(token)


def end_page() -> NoReturn:
    """End this page's run here, after it has said why (st.info, st.warning). Use it instead of st.stop() at
    a page's top level, never inside a fragment (Streamlit shows an exception raised there as an error): inside
    the app it ends the page and lets the run finish normally (`app_pages`); a page run on its own (AppTest)
    has no app around it and stops as st.stop() does."""
    if _IN_APP.get():
        raise PageEnded
    st.stop()
    raise PageEnded  # st.stop() outside a script run returns; never carry on past this line


def live_user() -> dict[str, str] | None:
    """For a `run_every` fragment's tick: the signed-in user as require_user re-reads it, or None when nobody
    is signed in, and the fragment then draws nothing (and writes nothing: no presence beat for nobody).

    Such a tick belongs to a page that is no longer on screen (the browser sent it just before it read the
    sign-out's run): whatever it drew would land in that page's layout, which the browser no longer has.
    dashboard/app.py's runs end normally so that Streamlit forgets such fragments; this is the second guard."""
    if current_user() is None:
        log.debug("a live fragment ticked with nobody signed in; it draws nothing")
        return None
    return require_user()


def can(permission: str) -> bool:
    user = current_user()
    if not user:
        return False
    return users.can(user["role"], permission)


def act(permission: str, fn: Callable[..., T], *args: Any, success: str | None = None, **kwargs: Any) -> T | None:
    """Run a state-changing service call as the signed-in user, checking the role first.

    Shows one sentence on failure (and logs the detail) instead of a traceback.
    """
    user = require_user()  # re-read: rights taken away a second ago are gone
    try:
        users.require(user["role"], permission)
        with db() as session:
            result = fn(session, *args, **kwargs)
    except CarelineError as exc:
        st.error(md_escape(str(exc), 500))  # messages may quote a handle or a platform's error text
        return None
    except Exception:  # noqa: BLE001 - one sentence in the UI, the trace in the log
        log.exception("dashboard action failed")
        st.error("That did not work because of an unexpected error; it has been logged.")
        return None
    if success:
        st.toast(success)
    return result


def when(dt: datetime | None, now: datetime | None = None) -> str:
    """'3 h ago (2026-11-20 14:02 UTC)' in the configured zone."""
    if dt is None:
        return "—"
    now = now or datetime.now(timezone.utc)
    secs = (now - dt).total_seconds()
    if secs < 0:
        ago = "in the future"
    elif secs < 3600:
        ago = f"{secs / 60:.0f} min ago"
    elif secs < 172800:
        ago = f"{secs / 3600:.0f} h ago"
    else:
        ago = f"{secs / 86400:.0f} days ago"
    local = dt.astimezone(settings().zone)
    return f"{ago} ({local:%Y-%m-%d %H:%M} {local.tzname()})"


def placeholder_notice(model_versions: list[str]) -> None:
    """Warn when labels (or the configured model) are the keyword placeholder rather than the trained model."""
    if any((v or "").startswith("placeholder") or v == "lexicon" for v in model_versions):
        st.warning(
            "Labels come from the placeholder keyword classifier, not the trained model: treat sentiment and "
            "intent as rough guesses (set CARELINE_MODEL to the trained model and reclassify).",
            icon=":material/warning:",
        )


def label_text(model: str | None, corrected: str | None, score: float | None) -> str:
    if corrected:
        return f"{corrected} (corrected)"
    if model is None:
        return "unclassified"
    return f"{model} ({score:.0%})" if score is not None else model
