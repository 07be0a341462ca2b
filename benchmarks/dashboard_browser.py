"""Browser-measured page loads of the dashboard (Debian's Chromium through Playwright), and the README shot.

    python benchmarks/dashboard_browser.py --database-url sqlite:///var/bench/dashboard-1m.db
    python benchmarks/dashboard_browser.py --screenshot docs/inbox.png      # demo data, for the docs

Starts `careline serve --no-scheduler` on a free port, signs in as agent and times, from the click to the
moment Streamlit has finished drawing: the inbox's first page after sign-in, a filter change
(a text search), the next page, and the Trends page at its default range (the last 30 days). Without
--database-url it loads the offline demo into a temporary directory.

`--search-repeats N` then times typing → table N times (the queries in `--queries`, in turn, so every
search changes the result), measured inside the page: from the Enter key's keydown to the frame after the
table's element stopped being stale (Streamlit marks every element of the previous run `data-stale` until
the new run sends it again), and to the frame after the whole run is drawn (no stale element left). The
running icon cannot be that marker: Streamlit shows it only after 500 ms of running.

    python benchmarks/dashboard_browser.py --database-url sqlite:///var/bench/m1.db --search-repeats 12 --skip-trends
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dashboard.server import (  # noqa: E402
    chromium,
    demo_env,
    load_demo,
    pick_option,
    serve,
    settled,
    sign_in,
)


def _timed(label: str, action, wait) -> float:  # type: ignore[no-untyped-def]
    """Time from the action to the moment `wait` reports the page quiet (it returns that moment)."""
    t0 = time.perf_counter()
    offset = time.monotonic() - t0
    action()
    done = wait()
    took = (done - offset - t0) if isinstance(done, float) else time.perf_counter() - t0
    print(f"{label:<56} {took * 1000:>8.0f} ms", flush=True)
    return took


def _drawn(page, table) -> float:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    expect(table).to_be_visible(timeout=60_000)
    return settled(page)


def _inbox_drawn(page) -> float:  # type: ignore[no-untyped-def]
    """The inbox's own heading, then its table (another page's table must not count)."""
    page.get_by_role("heading", name="Inbox").wait_for(timeout=60_000)
    page.get_by_text(" matching · showing ").wait_for(timeout=60_000)
    return _drawn(page, page.locator("[data-testid='stDataFrame']").first)


# Installed before each timed search; resolves with (ms to the table drawn, ms to the whole run drawn).
_MEASURE_JS = """() => { window.__carelineDrawn = new Promise((resolve, reject) => {
  let t0 = null, sawStale = false, table = null;
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))));
  const grid = () => document.querySelector("[data-testid='stMain'] [data-testid='stDataFrame']");
  const check = () => {
    if (t0 === null) return;
    const anyStale = document.querySelector("[data-testid='stMain'] [data-stale='true']");
    if (anyStale) sawStale = true;
    const g = grid(), box = g && g.closest("[data-testid='stElementContainer']");
    if (table === null && sawStale && box && box.getAttribute('data-stale') !== 'true') {
      table = frame();
    }
    if (sawStale && !anyStale) {
      obs.disconnect();
      const end = frame();
      Promise.all([table || end, end]).then(([a, b]) => resolve([a - t0, b - t0]));
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-stale']});
  document.addEventListener('keydown', e => { if (e.key === 'Enter' && t0 === null) t0 = performance.now(); },
                            {capture: true, once: true});
  setTimeout(() => reject(new Error('no redraw within 60 s')), 60000);
}); }"""


def _search_repeats(page, queries: list[str], repeats: int) -> None:  # type: ignore[no-untyped-def]
    """Type each query and press Enter; print the in-page typing → table / → run drawn times, then a summary."""
    import statistics

    box = page.get_by_role("textbox", name="Search mentions")
    tables, runs = [], []
    for i in range(repeats):
        settled(page)
        query = queries[i % len(queries)]
        if query == box.input_value():  # the same text again would not rerun anything
            query = queries[(i + 1) % len(queries)]
        box.fill(query)
        page.evaluate(_MEASURE_JS)  # leaves a pending promise in the page, awaited below
        box.press("Enter")
        table_ms, run_ms = page.evaluate("() => window.__carelineDrawn")
        tables.append(table_ms)
        runs.append(run_ms)
        print(f"search {query!r:<24} typing → table {table_ms:>6.0f} ms   → run drawn {run_ms:>6.0f} ms", flush=True)
    if repeats:
        def p95(xs: list[float]) -> float:
            return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]
        print(f"typing → table: median {statistics.median(tables):.0f} ms, p95 {p95(tables):.0f}, "
              f"min {min(tables):.0f}, max {max(tables):.0f} (n={repeats}); run drawn: median "
              f"{statistics.median(runs):.0f}, p95 {p95(runs):.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an already seeded database (default: a fresh demo)")
    parser.add_argument("--screenshot", type=Path, help="save the inbox (top of the page, a mention open below) to this PNG")
    parser.add_argument("--search-repeats", type=int, default=0,
                        help="time typing → table this many times after the single-shot timings")
    parser.add_argument("--queries", default='refund,pram,"lost bag",refun*',
                        help="comma-separated searches for --search-repeats, used in turn")
    parser.add_argument("--skip-trends", action="store_true", help="leave out the Trends and page-switch timings")
    args = parser.parse_args()
    from playwright.sync_api import expect

    with tempfile.TemporaryDirectory() as tmp:
        env = demo_env(Path(tmp), args.database_url)
        if not args.database_url:
            load_demo(env)
        else:  # the benchmark database has mentions but no users yet
            import subprocess

            subprocess.run([sys.executable, "-m", "careline.cli", "user", "add", "agent", "--role", "agent"],
                           env={**env, "CARELINE_NEW_USER_PASSWORD": "careline-agent"}, check=True,
                           capture_output=True)
        with serve(env, Path(tmp) / "serve.log") as base, chromium() as browser:
            # twice: the first visit pays the server's one-off imports, the second is every later sign-in
            for visit in ("first visit", "later visit"):
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                table = page.locator("[data-testid='stDataFrame']").first
                _timed(f"{visit}: open the app → sign-in form visible", partial(page.goto, base),
                       partial(page.get_by_label("Username").wait_for, timeout=60_000))
                page.get_by_label("Username").fill("agent")
                page.get_by_label("Password", exact=True).fill("careline-agent")
                _timed(f"{visit}: click Sign in → inbox first page drawn",
                       page.get_by_role("button", name="Sign in").click, partial(_drawn, page, table))

            def search_refund() -> None:
                box = page.get_by_role("textbox", name="Search mentions")
                box.fill("refund")
                box.press("Enter")

            summary = page.get_by_text(" matching · showing ")

            def changed(before: str):  # type: ignore[no-untyped-def]
                """Wait for the '… matching · showing …' line to change, then for the page to go quiet."""
                expect(summary).not_to_have_text(before, timeout=60_000)
                return settled(page)

            before = summary.inner_text()
            _timed("next page → table updated", lambda: page.get_by_role("button", name="Next →").click(),
                   lambda: changed(before))
            before = summary.inner_text()
            _timed("filter: search 'refund' → table updated", search_refund, lambda: changed(before))
            _search_repeats(page, args.queries.split(","), args.search_repeats)
            if args.screenshot:
                # Sign out first: a reload keeps the agent signed in (the session cookie), and the screenshot
                # wants the default filters of a new sign-in, not this run's searches.
                settled(page)
                page.get_by_role("button", name="Sign out").click()
                expect(page.get_by_label("Username")).to_be_visible(timeout=30_000)
                sign_in(page, base)
                expect(table).to_be_visible(timeout=60_000)
                pick_option(page, "Open a mention", 1)
                expect(page.get_by_text("Intent: complaint")).to_be_visible(timeout=30_000)
                settled(page)
                page.locator("[data-testid='stMain']").evaluate("e => e.scrollTo(0, 0)")
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.screenshot))
                print(f"saved {args.screenshot}")
            for visit in () if args.skip_trends else ("first", "second"):
                _timed(f"Trends page (default 30 days), {visit} time → drawn",
                       lambda: page.get_by_role("link", name="Trends").click(),
                       lambda: (page.get_by_role("heading", name="Share of voice").wait_for(timeout=60_000),
                                settled(page))[1])
                _timed(f"back to Inbox (page switch, default filters), {visit} time → table drawn",
                       page.get_by_role("link", name="Inbox").click,
                       partial(_inbox_drawn, page))


if __name__ == "__main__":
    main()
