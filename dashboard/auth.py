"""Sign-in: the bcrypt password store in the User table, and OIDC through st.login where configured.

A sign-in opens a server-side session (careline/services/sessions.py). The browser keeps it in an
HttpOnly cookie that an HTTP route sets (dashboard/asgi.py) from a one-time code the page POSTs, so a
reload or a new tab finds the session again through `st.context.cookies`. Failed passwords are throttled
and locked by careline/services/signin.py. An OIDC identity is let in only when its e-mail (or preferred
username) matches an active User row; the row's role applies.
"""
from __future__ import annotations

import json
import logging

import streamlit as st

from careline.models import User
from careline.services import app_settings, audit, sessions, signin, users
from dashboard.components import db, settings

log = logging.getLogger(__name__)


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all
        return False


def client_address() -> str | None:
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser connection (AppTest)
        return None
    return ip if isinstance(ip, str) else None  # AppTest's stand-in client answers with a mock


def cookie_value() -> str | None:
    """The session cookie the browser sent with this connection (HttpOnly: page scripts cannot read it)."""
    try:
        value = st.context.cookies.get(sessions.COOKIE)
    except Exception:  # noqa: BLE001 - no browser connection (AppTest)
        return None
    return value if isinstance(value, str) else None


def _remember(user: User, session_id: int | None) -> None:
    st.session_state["user"] = {"username": user.username, "role": user.role,
                                "display_name": user.display_name or user.username}
    st.session_state["session_id"] = session_id
    st.session_state.pop("signed_out_reason", None)


def _start(user: User, method: str, handoff: bool) -> None:
    with db() as session:
        row, code = sessions.start(session, user, settings(), method=method, client=client_address(),
                                   handoff=handoff, replaces=cookie_value())
    _remember(user, row.id)
    if code:
        st.session_state["_session_handoff"] = code


def restore() -> None:
    """Sign the browser in again from its cookie after a reload or in a new tab."""
    if st.session_state.get("user"):
        return
    cookie = cookie_value()
    if not cookie:
        return
    with db() as session:
        found = sessions.resume(session, cookie, settings())
    if found is not None:
        row, user = found
        _remember(user, row.id)
        log.info("session %s of %s resumed from its cookie", row.id, user.username)


def _oidc_user() -> User | None:
    info = getattr(st, "user", None)
    if info is None or not getattr(info, "is_logged_in", False):
        return None
    with db() as session:
        return users.active_by_names(session, [str(info.get(k, "")) for k in ("email", "preferred_username")])


def _check_password() -> None:
    username = st.session_state.get("sign_in_username") or ""
    password = st.session_state.get("sign_in_password") or ""
    st.session_state["sign_in_password"] = ""
    with db() as session:
        outcome = signin.attempt(session, username, password, client_address(), settings())
    if outcome.user is None:
        st.session_state["sign_in_error"] = outcome.message
        return
    _start(outcome.user, "password", handoff=True)


def _script(path: str, body: str | None = None) -> None:
    """POST to one of dashboard/asgi.py's routes from the page (same origin, so the cookie is set)."""
    payload = json.dumps(body) if body is not None else "''"
    st.html(f"<script>fetch({json.dumps(path)}, {{method: 'POST', body: {payload}, credentials: 'same-origin'}})"
            ".catch(function () {});</script>", unsafe_allow_javascript=True, width=1)


def hand_off_cookie() -> None:
    """Right after a sign-in: let the browser swap its one-time code for the HttpOnly session cookie."""
    code = st.session_state.pop("_session_handoff", None)
    if code:
        _script("/api/session", code)


def sign_in_form() -> None:
    """Render the sign-in screen; a successful sign-in stores the user in the session (see app.py)."""
    st.title("Careline")
    st.text("Sign in to the social care inbox.")
    if st.session_state.pop("_clear_cookie", False):
        _script("/api/sign-out")
    reason = st.session_state.pop("signed_out_reason", None)
    if reason:
        st.info(reason)
    if _oidc_configured():
        user = _oidc_user()
        if user is not None:
            with db() as session:
                audit.record(session, user.username, "sign_in", method="oidc", client=client_address())
                session.commit()
            _start(user, "oidc", handoff=False)  # Streamlit's own auth cookie carries OIDC across reloads
            st.rerun()
        if getattr(getattr(st, "user", None), "is_logged_in", False):
            st.error("Your single sign-on account has no Careline user; ask an admin to add you.")
        else:
            st.button("Sign in with single sign-on", on_click=st.login)
        st.divider()
    with st.form("sign_in"):
        st.text_input("Username", key="sign_in_username")
        st.text_input("Password", type="password", key="sign_in_password")
        # A callback runs before the script, so a good password goes straight to the inbox in one run.
        st.form_submit_button("Sign in", type="primary", on_click=_check_password)
    error = st.session_state.pop("sign_in_error", None)
    if error:
        st.error(error)
    with db() as session:
        demo = app_settings.get(session, "demo_anchor") is not None
    if demo:
        st.caption("Demo accounts: admin / careline-admin, agent / careline-agent, viewer / careline-viewer.")
    # The browser fetches the data grid's code the first time a page shows a table; an empty grid in a
    # zero-height box fetches it while the user types, so the inbox draws sooner after sign-in.
    with st.container(height=1, border=False):
        st.dataframe([], height=35)


def sign_out(everywhere: bool = False) -> None:
    """End this browser's session (every tab of it), or every session of this user on any device."""
    user = st.session_state.get("user")
    if user:
        with db() as session:
            sessions.sign_out(session, user["username"], st.session_state.get("session_id"), everywhere=everywhere)
    for key in ("user", "session_id"):
        st.session_state.pop(key, None)
    st.session_state["_clear_cookie"] = True
    if _oidc_configured() and getattr(getattr(st, "user", None), "is_logged_in", False):
        st.logout()
