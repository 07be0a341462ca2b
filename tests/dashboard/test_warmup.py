"""The dashboard's warm-up (dashboard/warmup.py): begun by the server's start, before any browser connects."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.dashboard.server import CARELINE, demo_env, serve

DONE = "dashboard warm-up done"


def test_the_server_start_warms_up_before_any_page_runs(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    subprocess.run([str(CARELINE), "init"], env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "careline.log"
    with serve(env, tmp_path / "serve.log"):  # no browser, no page run: only the server's start
        deadline = time.monotonic() + 90
        while DONE not in (log.read_text(encoding="utf-8") if log.exists() else ""):
            assert time.monotonic() < deadline, f"no warm-up within 90 s of the start; {log} says nothing of it"
            time.sleep(0.5)
    text = log.read_text(encoding="utf-8")
    assert text.count(DONE) == 1
    assert "reply suggestions were not prepared" not in text

