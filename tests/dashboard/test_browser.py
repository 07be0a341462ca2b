"""A real browser: Debian's Chromium through Playwright against `careline serve` on localhost."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from careline.db import make_engine
from careline.models import Reply
from tests.dashboard.server import CHROMIUM, CHROMIUM_ARGS, demo_env, load_demo, pick_option, serve, settled, sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.browser


def test_sign_in_open_complaint_reply_dry_run_and_see_state(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium chromium-driver)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    env = demo_env(tmp_path)
    load_demo(env)
    with serve(env, tmp_path / "serve.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            sign_in(page, base)
            expect(page.get_by_text("matching · showing 1–50")).to_be_visible(timeout=20_000)
            # open the most urgent mention: the demo puts a complaint first
            pick_option(page, "Open a mention", 1)
            expect(page.get_by_text("Intent: complaint")).to_be_visible(timeout=20_000)
            box = page.get_by_label("Your reply")
            box.fill("Hi, we're sorry about your bag. Please DM us your booking reference.")
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
            browser.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'careline.db'}")
    with Session(engine) as s:
        reply = s.exec(select(Reply)).one()
    engine.dispose()
    assert reply.state == "sent" and reply.dry_run and reply.created_by == "agent"
