"""Secrets out of every log line: a logging filter installed on Careline's handlers (careline/console.py)
and the dashboard's, so whichever library logs (apprise, httpx, urllib3, requests, prawcore, tweepy...)
nothing secret is written, whatever level `--verbose` opens up.

What counts as secret in a line:
- credential shapes: an Authorization header's value, `Bearer x`, `token=`/`password=`/`secret=`/
  `signature=`/`key=` values;
- URLs: notification URLs (apprise's `json://user:pass@host/...`, `slack://TokenA/TokenB/...`,
  `discord://id/token`, `mailto://user:pass@...`) carry their secret anywhere after the scheme, so every
  URL whose scheme is not http(s)/ws(s) keeps only its scheme; web URLs keep scheme, host and short path
  segments, and lose userinfo, query values and long token-like path segments (Slack/Discord webhook
  tokens, Telegram's `bot<id>:<token>`).
The exception text of a record (a traceback quoting a URL) is redacted the same way.
"""
from __future__ import annotations

import logging
import re
import traceback

_CREDENTIALS = (  # key=value shapes first: an Authorization value may hold `oauth_token="..."` pairs
    re.compile(r"(?i)((?:token|password|passwd|secret|signature|api_?key|client_secret)['\"]?\s*[=:]\s*['\"]?)"
               r"([^\s&'\",}]+)"),
    re.compile(r"(?i)(bearer\s+)([^\s&'\",}]+)"),
    # a whole Authorization header value (Bearer, OAuth 1.0a parameter lists, Basic), quoted or not
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*')([^'\n]+)"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*\")([^\"\n]+)"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*)([^'\"\s][^\n,}]*)"),
)
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20})://([^\s'\"<>]+)")
_WEB = {"http", "https", "ws", "wss"}
# a path segment that looks like a key: long, letters and digits mixed (webhook tokens, "bot<id>:<token>")
_TOKENISH = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_:.~%+=-]{16,}$")
# a path without its host, as urllib3/requests write them ("url: /hooks/<token>", "POST /api/... HTTP/1.1")
_BARE_PATH = re.compile(r"(?<![\w.:/~-])(/[^\s\"'()<>]+)")
MASK = "***"


def _web(rest: str) -> str:
    """host[:port] kept; userinfo, query values and token-like path segments masked."""
    rest, hash_, _fragment = rest.partition("#")
    rest, q, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = MASK + "@" + host.rsplit("@", 1)[1]
    segments = [MASK if _TOKENISH.match(seg) and not seg.isdigit() else seg for seg in path.split("/")]
    out = host + slash + "/".join(segments)
    if q:
        pairs = [p.partition("=") for p in query.split("&")]
        out += "?" + "&".join(f"{k}={MASK}" if eq else k for k, eq, _v in pairs)
    return out + (hash_ and "#" + MASK)


def redact(text: str) -> str:
    """`text` with credentials and URL secrets masked (see the module docstring)."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(lambda m: f"{m.group(1)}://" + (_web(m.group(2)) if m.group(1).lower() in _WEB else MASK),
                        text)
    if "/" in text:
        text = _BARE_PATH.sub(lambda m: _web(m.group(1)), text)
    for pattern in _CREDENTIALS:
        text = pattern.sub(r"\1" + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and exception text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            original = record.getMessage()
        except Exception:  # noqa: BLE001 - a library's bad format string: log it raw, still redacted
            original = f"{record.msg} {record.args}"
        msg = redact(original)
        if msg != original or record.args:
            record.msg, record.args = msg, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root by default) that lacks it."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
