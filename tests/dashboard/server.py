"""Start `careline serve --no-scheduler` on a free port over a demo database, and Debian's Chromium through
Playwright: the one copy of the setup the browser tests (tests/dashboard/test_browser*.py) and
benchmarks/dashboard_browser.py share."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CARELINE = Path(sys.executable).with_name("careline")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots the tests leave behind
VIEWPORT = {"width": 1500, "height": 1100}


def need_chromium() -> None:
    """Fail (never skip) when Debian's Chromium is missing: `make test` installs it."""
    if not Path(CHROMIUM).exists():
        import pytest

        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium chromium-driver)")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system one, never a downloaded build), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELINE_")}
    env.update(CARELINE_DATA_DIR=str(data_dir), CARELINE_MODEL="lexicon", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", CARELINE_CONFIG=str(data_dir / "none.toml"))
    if database_url:
        env["CARELINE_DATABASE_URL"] = database_url
    return env


def load_demo(env: dict[str, str]) -> None:
    done = subprocess.run([str(CARELINE), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode:
        raise RuntimeError(f"careline demo --no-serve failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@contextmanager
def serve(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Yield the dashboard's base URL once Streamlit answers its health check; stop it afterwards."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(CARELINE), "serve", "--no-scheduler", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"careline serve did not start; see {log_path}")
                time.sleep(0.3)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # our own process group: careline serve and its streamlit
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def sign_in(page, base: str, username: str = "agent", password: str = "careline-agent") -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for(timeout=30_000)


BUSY = "[data-testid='stStatusWidgetRunningIcon'], [data-testid='stSkeleton']"


def settled(page, quiet_s: float = 1.0, timeout_s: float = 60) -> float:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished drawing: no 'running' icon and no loading skeleton for `quiet_s`.

    Returns the monotonic time at which the page went quiet (so a timing can leave out the quiet wait).
    """
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if page.locator(BUSY).count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return quiet_since
        page.wait_for_timeout(50)
    raise TimeoutError("the dashboard kept running for more than a minute")


def pick_option(page, label: str, index: int) -> None:  # type: ignore[no-untyped-def]
    """Open a selectbox by its label and choose the option at `index` (retrying if a rerun closed it)."""
    for attempt in range(5):
        settled(page)
        page.get_by_label(label).click()
        option = page.get_by_role("option").nth(index)
        try:
            option.wait_for(state="visible", timeout=5_000)
            option.click()
            return
        except Exception:  # noqa: BLE001 - a rerun redrew the widget under the click; try again
            page.keyboard.press("Escape")
            if attempt == 4:
                raise


# The race behind the blank page after Sign out, made to happen on purpose (an init script): the timers of the
# live desk's run_every fragments (set with the refresh interval) are kept, and once `click_racing_live_ticks`
# arms it, the server's messages are held back from the page for `hold` ms from the first one on, as on a busy
# machine; then every kept timer ticks once and the held messages are delivered in order. Those ticks reach the
# server after the click's run, before the page has read that run's start (which cancels every timer).
_LIVE_TICKS_JS = """(() => {
  const set = window.setInterval, clear = window.clearInterval, listen = WebSocket.prototype.addEventListener;
  window.__liveTicks = new Map();
  window.__liveHold = 0;
  window.__liveFired = 0;
  let held = null;
  window.setInterval = function (fn, ms, ...rest) {
    const id = set.call(window, fn, ms, ...rest);
    if (ms === %d) window.__liveTicks.set(id, fn);
    return id;
  };
  window.clearInterval = function (id) { window.__liveTicks.delete(id); return clear.call(window, id); };
  WebSocket.prototype.addEventListener = function (type, fn, ...rest) {
    if (type !== 'message') return listen.call(this, type, fn, ...rest);
    const socket = this;
    return listen.call(this, type, function (event) {
      if (held !== null) { held.push(event); return; }
      if (!window.__liveHold) return fn.call(socket, event);
      held = [event];
      setTimeout(() => {
        for (const tick of window.__liveTicks.values()) { tick(); window.__liveFired++; }
        const events = held;
        held = null;
        window.__liveHold = 0;
        for (const e of events) fn.call(socket, e);
      }, window.__liveHold);
    }, ...rest);
  };
})();"""
_RACING_CLICK_JS = """([name, hold]) => {
  window.__liveHold = hold;
  [...document.querySelectorAll('button')].find(b => b.innerText.trim() === name).click();
  return window.__liveTicks.size;
}"""


def keep_live_ticks(context, refresh_s: float) -> None:  # type: ignore[no-untyped-def]
    """Let `click_racing_live_ticks` tick the live fragments' timers in this browser context's pages."""
    context.add_init_script(_LIVE_TICKS_JS % round(refresh_s * 1000))


def click_racing_live_ticks(page, button: str, hold_ms: int = 500) -> int:  # type: ignore[no-untyped-def]
    """Click `button`, then tick every live timer while the server's answer waits `hold_ms`; how many timers."""
    return int(page.evaluate(_RACING_CLICK_JS, [button, hold_ms]))


def live_ticks_fired(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("window.__liveFired"))
