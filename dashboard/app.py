"""Careline dashboard entry point: sign-in, then the pages (st.navigation). Run with `careline serve`."""
from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from dashboard import auth, views_nav
from dashboard.components import check_database, current_user, settings

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Careline", page_icon="💬", layout="wide")
settings()  # fail early, in one sentence, on bad configuration


def _import_charting() -> None:
    import altair  # noqa: F401
    import pandas  # noqa: F401


@st.cache_resource(show_spinner=False)
def _warm_up() -> bool:
    """Import the charting stack in the background once per server: the first Trends visit saves ~2 s."""
    threading.Thread(target=_import_charting, name="careline-warm-up", daemon=True).start()
    return True


_warm_up()

database_problem = check_database()
if database_problem:
    st.title("Careline")
    st.error(database_problem)
    st.stop()

user = current_user()
if not user:
    # one hidden page: without a navigation of its own Streamlit would list the pages/ folder beside the form
    st.navigation([st.Page(auth.sign_in_form, title="Sign in", url_path="sign-in")], position="hidden").run()
    st.stop()

inbox_page = st.Page(str(HERE / "pages" / "inbox.py"), title="Inbox", icon=":material/inbox:", default=True,
                     url_path="inbox")
pages = [
    inbox_page,
    st.Page(str(HERE / "pages" / "advocates.py"), title="Advocates", icon=":material/volunteer_activism:", url_path="advocates"),
    st.Page(str(HERE / "pages" / "trends.py"), title="Trends", icon=":material/trending_up:", url_path="trends"),
    st.Page(str(HERE / "pages" / "sources.py"), title="Sources", icon=":material/cell_tower:", url_path="sources"),
    st.Page(str(HERE / "pages" / "settings.py"), title="Settings", icon=":material/settings:", url_path="settings"),
]
nav = st.navigation({"Careline": pages, "Saved views": views_nav.pages(user, inbox_page)})
with st.sidebar:
    st.text(f"Signed in as {user['display_name']} ({user['role']})")
    if user["role"] == "viewer":
        st.info("Read-only access: you can look and export, not reply or change anything.")
    if st.button("Sign out", key="sign_out"):
        auth.sign_out()
        st.rerun()
nav.run()
