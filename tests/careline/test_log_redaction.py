"""With --verbose, no library's debug line writes a secret URL or credential to careline.log or the terminal."""
from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from careline.console import setup_logging
from careline.redact import redact

PASSWORD = "s3cretPassw0rd"
TOKEN = "xoxbWEBHOOKSECRET0123456789abcdef"


@pytest.fixture
def verbose_logging(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    root._careline_configured = False  # type: ignore[attr-defined]
    setup_logging(tmp_path, verbose=True)
    try:
        yield tmp_path / "careline.log"
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
        root._careline_configured = False  # type: ignore[attr-defined]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_apprise_and_http_libraries_never_log_secrets(verbose_logging: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import apprise

    port = _closed_port()
    alerts = apprise.Apprise()
    assert alerts.add(f"json://alerts:{PASSWORD}@127.0.0.1:{port}/hooks/{TOKEN}")
    alerts.notify(title="Careline", body="complaint spike")  # fails (nothing listens): logs at DEBUG/WARNING
    lines = {
        "httpx": f"HTTP Request: POST https://hooks.slack.com/services/T0001/B0001/{TOKEN} \"HTTP/1.1 200 OK\"",
        "urllib3.connectionpool": f"https://discord.com:443 \"POST /api/webhooks/1234567890/{TOKEN} HTTP/1.1\" 204 0",
        "requests": f"GET https://bot:{PASSWORD}@example.com/x?access_token={TOKEN}",
        "prawcore": f"Fetching: POST https://www.reddit.com/api/v1/access_token data: grant_type=password&"
                    f"password={PASSWORD}&username=acme",
        "tweepy.client": f"Making API request: GET https://api.twitter.com/2/users/me headers: "
                         f"{{'Authorization': 'OAuth oauth_token=\"{TOKEN}\"'}}",
        "apprise": f"Loaded URL: mailto://acme:{PASSWORD}@gmail.com and slack://T0001/B0001/{TOKEN}",
    }
    for name, line in lines.items():
        logger = logging.getLogger(name)
        old = logger.level
        logger.setLevel(logging.DEBUG)  # --verbose may open any library up
        logger.debug(line)
        logger.setLevel(old)
    try:
        raise ConnectionError(f"cannot reach https://hooks.slack.com/services/T0001/B0001/{TOKEN}")
    except ConnectionError:
        logging.getLogger("careline.services.delivery").exception("delivery failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = verbose_logging.read_text(encoding="utf-8") + capsys.readouterr().err
    assert "hooks.slack.com" in written and "127.0.0.1" in written  # the lines were logged...
    assert PASSWORD not in written and TOKEN not in written  # ...without their secrets


@pytest.mark.parametrize("line, kept", [
    ("GET https://www.reddit.com/r/travel/comments/1gq0009/slug/", "https://www.reddit.com/r/travel/comments/1gq0009/slug/"),
    ("id 1862000000000000105", "id 1862000000000000105"),
])
def test_redaction_keeps_what_is_not_secret(line: str, kept: str) -> None:
    assert redact(line) == line and kept in redact(line)


def test_the_dashboard_process_redacts_too(tmp_path: Path) -> None:
    """`careline serve` runs dashboard/asgi.py in a process of its own: importing it sets up the same handlers."""
    import os
    import subprocess
    import sys

    script = ("import logging, dashboard.asgi; "
              f"logging.getLogger('apprise').warning('posting to https://hooks.slack.com/services/T0/B0/{TOKEN}')")
    env = {**os.environ, "CARELINE_DATA_DIR": str(tmp_path), "CARELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    logged = (tmp_path / "careline.log").read_text(encoding="utf-8")
    assert "hooks.slack.com" in logged and TOKEN not in logged and TOKEN not in done.stderr
