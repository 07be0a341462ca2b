"""A real browser: Debian's Chromium through Playwright against `careline serve` on localhost."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from careline.db import make_engine
from careline.models import Mention, Reply
from tests.dashboard.server import (
    ARTIFACTS,
    VIEWPORT,
    chromium,
    demo_env,
    load_demo,
    need_chromium,
    pick_option,
    serve,
    settled,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_sign_in_open_complaint_reply_dry_run_and_see_state(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    env = demo_env(tmp_path)
    load_demo(env)
    hostile_id = _add_hostile_mention(f"sqlite:///{tmp_path / 'careline.db'}")
    with serve(env, tmp_path / "serve.log") as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        try:
            page.goto(base)
            page.get_by_label("Username").wait_for(timeout=30_000)
            # before sign-in there is nothing to navigate to, and no developer toolbar
            expect(page.get_by_role("link", name="advocates")).to_have_count(0)
            expect(page.get_by_text("Deploy", exact=True)).to_have_count(0)
            sign_in(page, base)
            expect(page.get_by_text("matching · showing 1–50")).to_be_visible(timeout=20_000)
            expect(page.get_by_role("link", name="Advocates")).to_be_visible()
            # find the hostile post by a word of it (the inbox order also weighs deadlines, so it need not be
            # first): clicking its row opens it; its text stays text
            settled(page)
            search = page.get_by_role("textbox", name="Search mentions")
            search.fill("pwned")
            search.press("Enter")
            expect(page.get_by_text("1 matching · showing 1–1")).to_be_visible(timeout=20_000)
            settled(page)
            table = page.locator("[data-testid='stDataFrame']").first
            table.scroll_into_view_if_needed()  # the filter panel has grown: the grid starts below the fold
            grid = table.bounding_box()
            assert grid is not None
            page.mouse.click(grid["x"] + 14, grid["y"] + 35 + 17)  # the first row's tick box (canvas grid)
            expect(page.get_by_role("heading", name=f"Mention #{hostile_id}")).to_be_visible(timeout=20_000)
            body = page.get_by_label("Full text (as posted, shown as plain text)")
            expect(body).to_have_value(HOSTILE_TEXT, timeout=20_000)
            assert page.locator("img[src*='evil.example']").count() == 0
            assert page.locator("a[href^='javascript'], a[href*='evil.example']").count() == 0
            assert page.locator("b:text-is('bold'), h1:text-is('Heading')").count() == 0
            assert not page.evaluate("window.__pwned === true")
            expect(page.get_by_text("Original link hidden: it is not an http(s) address.")).to_be_visible()
            # then the next complaint: reply to it in dry run
            search.fill("")
            search.press("Enter")
            expect(page.get_by_text("matching · showing 1–50")).to_be_visible(timeout=20_000)
            pick_option(page, "Open a mention", 2)
            expect(page.get_by_role("heading", name=f"Mention #{hostile_id}")).to_be_hidden(timeout=20_000)
            expect(page.get_by_text("Intent: complaint")).to_be_visible(timeout=20_000)
            settled(page)
            box = page.get_by_label("Your reply")
            box.fill(REPLY_TEXT)
            box.press("Control+Enter")
            settled(page)
            page.get_by_text("Dry run (record it, don't post)").click()
            settled(page)
            queue = page.get_by_role("button", name="Queue reply")
            expect(queue).to_be_enabled(timeout=20_000)
            queue.click()
            settled(page)
            expect(page.get_by_text("state: queued").first).to_be_visible(timeout=20_000)
            page.get_by_role("button", name="Send now").click()
            expect(page.get_by_text("state: sent").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("DRY RUN").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "inbox-reply-dry-run.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "inbox-reply-failure.png"), full_page=True)
            raise
        finally:
            page.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'careline.db'}")
    with Session(engine) as s:
        # the one this test queued (the demo has sent replies and an outbox example of its own)
        reply = s.exec(select(Reply).where(Reply.text == REPLY_TEXT)).one()
    engine.dispose()
    assert reply.state == "sent" and reply.dry_run and reply.created_by == "agent"
    assert reply.mention_id != hostile_id


REPLY_TEXT = "Hi, we're sorry about your bag. Please DM us your booking reference."
HOSTILE_TEXT = (
    "Acme Air lost my bag ![pwned](https://evil.example/x.png) <img src=https://evil.example/y.png "
    "onerror=window.__pwned=true> <script>window.__pwned=true</script> [click](javascript:window.__pwned=true) "
    "<b>bold</b>\n# Heading\n" + "A" * 10_000
)


def _add_hostile_mention(url: str) -> int:
    from careline.services.classification import apply_labels
    from careline.services.ingest import ingest
    from classify.base import Labels
    from tests.conftest import make_raw

    engine = make_engine(url)
    with Session(engine) as s:
        res = ingest(s, [make_raw(external_id="hostile-1", text=HOSTILE_TEXT, url="javascript:window.__pwned=true",
                                  author_handle="<img src=https://evil.example/z.png>", author_followers=50_000_000)],
                     brand_id=1)
        m = s.get(Mention, res.new_ids[0])
        apply_labels(s, [m], [Labels("negative", "complaint", {"negative": 0.99}, {"complaint": 0.99})], "test", 0.5)
        s.commit()
        mid = m.id
    engine.dispose()
    return mid
