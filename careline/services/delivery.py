"""Delivering alerts (and report notices) through apprise: batched, rate-limited, retried with backoff.

Each alert remembers which alert URLs already have it (detail["delivered_to"], by position in
settings.alert_urls), so a retry after a partial failure never pages the working channel twice. URLs
are secrets (they embed webhook tokens): messages name them only as "alert URL #2".
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from careline.models import Alert
from collectors.ratelimit import backoff_delay

log = logging.getLogger(__name__)
Notifier = Callable[[str, str, str], bool]  # (url, title, body) -> delivered?
BATCH = 20
MINUTE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=24)


def apprise_notify(url: str, title: str, body: str, attach: Sequence[str] = ()) -> bool:
    import apprise

    ap = apprise.Apprise()
    if not ap.add(url):
        log.warning("an alert URL is not a valid apprise URL")
        return False
    attachments = apprise.AppriseAttachment(list(attach)) if attach else None
    return bool(ap.notify(title=title, body=body, attach=attachments))


def chat_safe(text: str, limit: int = 200) -> str:
    """Mention text quoted in a chat message: no markup, no @-pings, no <!channel>, one line, short."""
    text = re.sub(r"\s+", " ", text or "").strip()
    text = text.replace("<", "‹").replace(">", "›").replace("@", "@\u200b").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class DeliveryResult:
    delivered: int = 0
    failed: int = 0
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def deliver_pending(session: Session, urls: Sequence[str], now: datetime, *, min_interval_minutes: int = 10,
                    max_attempts: int = 6, retry_minutes: int = 5, max_age_hours: int = 24,
                    notifier: Notifier | None = None) -> DeliveryResult:
    """Send undelivered alerts that are due, at most one notification per URL per `min_interval_minutes`.

    Alerts older than `max_age_hours` are not sent any more (they stay listed): adding an alert URL to an
    installation that ran without one must not page anybody about last month.
    """
    result = DeliveryResult()
    if not urls:
        return result
    notify = notifier or apprise_notify
    pending = list(session.exec(
        select(Alert).where(col(Alert.delivered_at).is_(None), Alert.delivery_attempts < max_attempts,
                            col(Alert.created_at) >= now - timedelta(hours=max_age_hours))
        .order_by(col(Alert.created_at), col(Alert.id))))
    due = [a for a in pending if (_when(a.detail.get("next_attempt_at")) or now) <= now]
    if not due:
        return result
    last = _last_notification(session, now)
    if last is not None and now - last < timedelta(minutes=min_interval_minutes):
        result.rate_limited = len(due)
        log.info("alert delivery rate-limited: %d alert(s) wait for the next check", len(due))
        return result
    due = due[:BATCH]
    failed_urls: set[int] = set()
    for index, url in enumerate(urls):
        batch = [a for a in due if index not in a.detail.get("delivered_to", [])]
        if not batch:
            continue
        title, body = _compose(batch)
        try:
            ok = notify(url, title, body)
        except Exception:  # noqa: BLE001 - a plugin bug must not stop the other URLs
            log.exception("alert URL #%d raised during delivery", index + 1)
            ok = False
        if ok:
            for alert in batch:
                alert.detail = {**alert.detail, "delivered_to": sorted({*alert.detail.get("delivered_to", []), index})}
        else:
            failed_urls.add(index)
    for alert in due:
        alert.delivery_attempts += 1
        done = set(alert.detail.get("delivered_to", []))
        detail = {**alert.detail, "last_attempt_at": now.isoformat()}
        if done >= set(range(len(urls))):
            alert.delivered_at, alert.delivery_error = now, None
            detail.pop("next_attempt_at", None)
            result.delivered += 1
        else:
            missing = ", ".join(f"#{i + 1}" for i in sorted(set(range(len(urls))) - done))
            if alert.delivery_attempts >= max_attempts:
                alert.delivery_error = f"gave up after {alert.delivery_attempts} attempts: alert URL {missing} failed"
            else:
                wait = _retry_wait(alert.delivery_attempts, retry_minutes)
                detail["next_attempt_at"] = (now + wait).isoformat()
                alert.delivery_error = f"alert URL {missing} failed; retrying in {math.ceil(wait / MINUTE)} min"
            result.failed += 1
        alert.detail = detail
        session.add(alert)
    session.commit()
    result.errors = [f"alert URL #{i + 1} of {len(urls)}" for i in sorted(failed_urls)]
    return result


def _retry_wait(attempts: int, retry_minutes: int) -> timedelta:
    """The project's one backoff (collectors.ratelimit.backoff_delay, as the outbox and the collectors use):
    at least `retry_minutes` doubling per attempt, at most twice that (equal jitter, so many alerts' retries
    never line up), capped at a day."""
    first = 2 * retry_minutes * MINUTE.total_seconds()  # backoff_delay waits between half and all of this
    return timedelta(seconds=backoff_delay(attempts - 1, first, RETRY_CAP.total_seconds()))


def _last_notification(session: Session, now: datetime) -> datetime | None:
    recent = session.exec(select(Alert).where(col(Alert.created_at) >= now - timedelta(days=2))).all()
    times = [t for a in recent for t in (_when(a.detail.get("last_attempt_at")),) if t is not None]
    return max(times) if times else None


def _compose(alerts: list[Alert]) -> tuple[str, str]:
    if len(alerts) == 1:
        return f"Careline: {chat_safe(alerts[0].message, 200)}", _line(alerts[0])
    kinds = sorted({a.kind.replace("_", " ") for a in alerts})
    return f"Careline: {len(alerts)} alerts ({', '.join(kinds)})", "\n".join(_line(a) for a in alerts)


def _line(alert: Alert) -> str:
    text = chat_safe(alert.message, 300)  # it names an author handle, which comes from the platform
    quote = alert.detail.get("quote")
    if quote:
        text += f": “{chat_safe(quote)}”"
    if alert.detail.get("url"):
        text += f" {alert.detail['url']}"
    return "• " + text
