"""In Chromium: the demo inbox finds "lost bag" as a phrase and a customer by handle; a saved view in the
navigation opens the inbox with its filters."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.dashboard.server import (
    VIEWPORT,
    chromium,
    demo_env,
    load_demo,
    need_chromium,
    serve,
    settled,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_phrase_handle_and_saved_view_in_the_browser(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import expect

    env = demo_env(tmp_path)
    load_demo(env)
    with sqlite3.connect(tmp_path / "careline.db") as conn:
        handle, = conn.execute("SELECT author_handle FROM mention WHERE text LIKE '%lost bag%' "
                               "AND status IN ('new', 'assigned') "
                               "AND brand_id IN (SELECT id FROM brand WHERE NOT competitor) "
                               "ORDER BY id LIMIT 1").fetchone()
        n_by_handle, = conn.execute("SELECT count(*) FROM mention WHERE lower(author_handle) = lower(?) "
                                    "AND status IN ('new', 'assigned') AND brand_id IN "
                                    "(SELECT id FROM brand WHERE NOT competitor)", (handle,)).fetchone()
    with serve(env, tmp_path / "serve.log") as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        try:
            sign_in(page, base)
            settled(page)
            box = page.get_by_role("textbox", name="Search mentions")
            box.fill('"lost bag"')
            box.press("Enter")
            expect(page.get_by_text(re.compile(r"^\d+ matching · showing 1–"))).to_be_visible(timeout=20_000)
            settled(page)
            box.fill(f"from:@{handle}")  # a customer by handle
            box.press("Enter")
            expect(page.get_by_text(f"{n_by_handle} matching · showing 1–{n_by_handle}")).to_be_visible(timeout=20_000)
            # the built-in views and the demo's shared ones are in the navigation, each with a count
            link = page.get_by_role("link", name=re.compile(r"^Lost bags \(all time\) · \d+"))
            expect(link).to_be_visible(timeout=20_000)
            expect(page.get_by_role("link", name=re.compile(r"^Mine · \d+"))).to_be_visible()
            link.click()
            expect(page.get_by_role("textbox", name="Search mentions")).to_have_value('"lost bag"', timeout=20_000)
            expect(page.get_by_text(re.compile(r"^\d+ matching"))).to_be_visible(timeout=20_000)
        finally:
            page.close()
