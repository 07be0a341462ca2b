"""Sign-in: the bcrypt password store in the User table, and OIDC through st.login where configured.

An OIDC identity is let in only when its e-mail (or preferred username) matches an active User row; the
row's role applies. Nothing about the session is trusted from the browser except Streamlit's own state.
"""
from __future__ import annotations

import logging
import time

import streamlit as st
from sqlmodel import select

from careline.models import User
from careline.services import app_settings, audit, users
from dashboard.components import db

log = logging.getLogger(__name__)
_FAIL_DELAY_S = 0.5


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all
        return False


def _sign_in(user: User, method: str) -> None:
    st.session_state["user"] = {"username": user.username, "role": user.role,
                                "display_name": user.display_name or user.username}
    with db() as session:
        audit.record(session, user.username, "sign_in", method=method)
        session.commit()


def _oidc_user() -> User | None:
    info = getattr(st, "user", None)
    if info is None or not getattr(info, "is_logged_in", False):
        return None
    candidates = [str(info.get(k, "")).strip().lower() for k in ("email", "preferred_username")]
    with db() as session:
        for name in filter(None, candidates):
            user = session.exec(select(User).where(User.username == name, User.active == True)).first()  # noqa: E712
            if user is not None:
                return user
    return None


def _check_password() -> None:
    username = st.session_state.get("sign_in_username") or ""
    password = st.session_state.get("sign_in_password") or ""
    with db() as session:
        user = users.authenticate(session, username, password)
    if user is None:
        time.sleep(_FAIL_DELAY_S)  # slows guessing; bcrypt already costs ~50 ms
        log.info("failed sign-in for %r", username[:100])
        st.session_state["sign_in_failed"] = True
        return
    st.session_state["sign_in_password"] = ""
    _sign_in(user, "password")


def sign_in_form() -> None:
    """Render the sign-in screen; a successful sign-in stores the user in the session (see app.py)."""
    st.title("Careline")
    st.text("Sign in to the social care inbox.")
    if _oidc_configured():
        user = _oidc_user()
        if user is not None:
            _sign_in(user, "oidc")
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
    if st.session_state.pop("sign_in_failed", False):
        st.error("Wrong username or password.")
    with db() as session:
        demo = app_settings.get(session, "demo_anchor") is not None
    if demo:
        st.caption("Demo accounts: admin / careline-admin, agent / careline-agent, viewer / careline-viewer.")
    # The browser fetches the data grid's code the first time a page shows a table; an empty grid in a
    # zero-height box fetches it while the user types, so the inbox draws sooner after sign-in.
    with st.container(height=1, border=False):
        st.dataframe([], height=35)


def sign_out() -> None:
    st.session_state.pop("user", None)
    if _oidc_configured() and getattr(getattr(st, "user", None), "is_logged_in", False):
        st.logout()
