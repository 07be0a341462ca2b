"""Sign in, sign out, N times in Debian's Chromium against `careline serve`, counting blank pages.

    python benchmarks/signout_stress.py --cycles 40 --busy 2

Each cycle opens a fresh browser context, signs in as agent (the inbox, whose live watcher is a
`run_every` fragment), waits a random 0-`--refresh` seconds so the click lands anywhere in the fragment's
timer period, clicks Sign out and waits `--wait` seconds for the sign-in form. A cycle without it is
"blank": the page's errors and a screenshot (test-artifacts/) are kept. `--busy N` runs N
`python -c 'while 1: pass'` loops beside it (killed at the end), the load under which the blank page was
seen. Prints one line a cycle and a summary with /proc/loadavg before and after.

`--aim MS` makes the race happen instead of waiting for it (tests/dashboard/server.py's
click_racing_live_ticks): the server's messages after the click on Sign out are held back from the page
for MS ms, as on a busy machine, and then each live timer ticks once before the page reads them: a timer
that came due while the sign-out run's messages waited, before the page cancelled every timer on reading
the run's start. The random click hits that window only when a tick falls into it.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dashboard.server import (  # noqa: E402
    ARTIFACTS,
    VIEWPORT,
    chromium,
    click_racing_live_ticks,
    demo_env,
    keep_live_ticks,
    live_ticks_fired,
    load_demo,
    serve,
    settled,
    sign_in,
)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cycle(browser, base: str, refresh: float, wait_s: float, shot: Path | None,  # type: ignore[no-untyped-def]
           aim: int | None) -> tuple[bool, list[str]]:
    """One sign-in/sign-out; (the sign-in form came back, the page's errors and console errors)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    if aim is not None:
        keep_live_ticks(ctx, refresh)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    try:
        sign_in(page, base)
        settled(page, quiet_s=0.5)
        page.wait_for_timeout(int(random.uniform(0, refresh) * 1000))
        if aim is None:
            page.get_by_role("button", name="Sign out").click()
        elif not click_racing_live_ticks(page, "Sign out", aim):
            errors.append("no live timer was set when Sign out was clicked")
        try:
            page.get_by_label("Username").wait_for(state="visible", timeout=int(wait_s * 1000))
            ok = True
            if aim is not None:
                errors.append(f"{live_ticks_fired(page)} ticks fired")
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the blank page
            ok = False
            if shot is not None:
                page.screenshot(path=str(shot), full_page=True)
        return ok, errors
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--busy", type=int, default=2, help="CPU busy loops beside the run")
    parser.add_argument("--refresh", type=float, default=2.0, help="CARELINE_LIVE_REFRESH_SECONDS (the tests use 2)")
    parser.add_argument("--aim", type=int, metavar="MS",
                        help="hold the server's messages MS ms after the click, then tick the live timers")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds the sign-in form may take to appear")
    args = parser.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = demo_env(Path(tmp))
        load_demo(env)
        env["CARELINE_LIVE_REFRESH_SECONDS"] = str(args.refresh)
        busy: list[subprocess.Popen[bytes]] = []
        blanks, took = 0, 0.0
        try:
            with serve(env, Path(tmp) / "serve.log") as base, chromium() as browser:
                print(f"load before: {_loadavg()}", flush=True)
                busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.busy)]
                started = time.monotonic()
                for i in range(1, args.cycles + 1):
                    shot = ARTIFACTS / f"signout-blank-{i}.png"
                    ok, errors = _cycle(browser, base, args.refresh, args.wait, shot, args.aim)
                    blanks += not ok
                    shown = errors if not ok else [e for e in errors if e.endswith("fired")]
                    note = " | ".join(e[:160] for e in shown[:4])
                    print(f"cycle {i:>3}: {'ok' if ok else 'BLANK'}  {note}", flush=True)
                took = time.monotonic() - started
                print(f"load after: {_loadavg()}", flush=True)
        finally:
            for p in busy:
                os.kill(p.pid, signal.SIGTERM)
                p.wait()
            if blanks:
                log = (Path(tmp) / "serve.log").read_text(errors="replace")
                print("serve.log tail:\n" + log[-3000:], flush=True)
    aimed = "random click" if args.aim is None else f"ticks aimed, messages held {args.aim} ms"
    print(f"{blanks} blank of {args.cycles} cycles ({args.busy} busy loops, refresh {args.refresh} s, {aimed}, "
          f"{took:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
