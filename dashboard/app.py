"""Careline dashboard entry point: sign-in, then the pages (st.navigation). Run with `careline serve`.

Every run of this script ends by returning, never with st.stop(): Streamlit forgets the fragments of the page
that was (the live desk's run_every ones) only when a full run finishes normally. A run stopped early keeps
them, and a live tick that the browser sent just before it read the run (after Sign out, say) would then run
the inbox's fragment over the sign-in page, whose tree has no place for it: the browser throws "Bad delta
path index" and the page goes white. Streamlit drops a tick for a fragment it has forgotten. The pages end
early with components.end_page(), not st.stop(), for the same reason (a page's st.stop() would end app.py's
run too).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from careline.services import users
from dashboard import auth, views_nav, warmup
from dashboard.components import app_pages, check_database, refresh_user, settings

HERE = Path(__file__).resolve().parent
PAGES = [  # (file, title, icon, url path, who sees it)
    ("inbox.py", "Inbox", ":material/inbox:", "inbox", "read"),
    ("customers.py", "Customers", ":material/groups:", "customers", "read"),
    ("advocates.py", "Advocates", ":material/volunteer_activism:", "advocates", "read"),
    ("trends.py", "Trends", ":material/trending_up:", "trends", "read"),
    ("sources.py", "Sources", ":material/cell_tower:", "sources", "read"),
    ("outbox.py", "Outbox", ":material/outbox:", "outbox", "read"),
    ("audit.py", "Audit", ":material/policy:", "audit", "users"),
    ("settings.py", "Settings", ":material/settings:", "settings", "read"),
]


def _pages(role: str | None) -> list:  # type: ignore[type-arg]
    """The pages `role` may open (all of them when nobody is signed in). None is the default page: Streamlit
    serves the default at "/" and ignores its url_path, so a typed or bookmarked /inbox would say "Page not
    found"; `_home` below is the default instead."""
    return [st.Page(str(HERE / "pages" / file), title=title, icon=icon, url_path=path)
            for file, title, icon, path, permission in PAGES if role is None or users.can(role, permission)]


def _signed_out() -> None:
    # Every page's address stays known (hidden, never run) so a reload of /inbox after the session ended
    # shows the sign-in form, then the inbox, instead of "Page not found".
    # (The sign-in page itself is a function page and the default, so AppTest reruns app.py, not a page file.)
    st.navigation([st.Page(auth.sign_in_form, title="Sign in", url_path="sign-in", default=True),
                   *_pages(None)], position="hidden")
    auth.sign_in_form()


def _signed_in(user: dict[str, str]) -> None:
    pages = _pages(user["role"])
    inbox_page = pages[0]  # the Inbox: first in PAGES, and everyone may read

    def _home() -> None:
        """ "/" opens the inbox at its own address, /inbox."""
        st.switch_page(inbox_page)

    home = st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden")
    view_pages = views_nav.pages(user, inbox_page)
    nav = st.navigation({"Careline": [home, *pages], "Saved views": view_pages})
    with st.sidebar:
        st.text(f"Signed in as {user['display_name']} ({user['role']})")
        if user["role"] == "viewer":
            st.info("Read-only access: you can look and export, not reply or change anything.")
        s1, s2 = st.columns(2)
        # Callbacks: the session ends before the next run starts, not when a run gets down to these lines (one
        # run instead of two, and nothing between the click and the sign-out for a busy server to interrupt).
        s1.button("Sign out", key="sign_out", help="Ends this browser's session, in every tab.",
                  on_click=auth.sign_out)
        s2.button("Everywhere", key="sign_out_all", help="Sign out on every device and browser.",
                  on_click=auth.sign_out, kwargs={"everywhere": True})
    # Home and the saved views only switch to the inbox, and a switch drops what the run drew: the cookie
    # hand-off's script would never reach the browser (a reload would sign the agent out). It waits, in the
    # session state, for the run that draws the inbox.
    if not any(nav is p for p in (home, *view_pages)):
        auth.hand_off_cookie()
    with app_pages():  # a page's end_page() ends it without st.stop()'s early end of the run
        nav.run()


def main() -> None:
    st.set_page_config(page_title="Careline", page_icon="💬", layout="wide")
    settings()  # fail early, in one sentence, on bad configuration
    warmup.begin()  # libraries and the suggestion index, in the background, once per process
    database_problem = check_database()
    if database_problem:
        st.title("Careline")
        st.error(database_problem)
        return
    auth.restore()  # a reload or a new tab: the HttpOnly cookie finds the server-side session again
    user = refresh_user()  # every run: a revoked session, a disabled user or a new role counts at once
    if user:
        _signed_in(user)
    else:
        _signed_out()


main()
