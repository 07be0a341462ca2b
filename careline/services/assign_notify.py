"""An optional notification (apprise) to a person when mentions are assigned to them.

Configure per person: CARELINE_ASSIGN_NOTIFY_URLS='{"dana": "mailto://...", "sam": "tgram://..."}' (secrets:
env, .env or the secrets directory, never the database). Sent after the assignment is committed, in a
background thread so the click does not wait for the network; a failure is one log line and never undoes
the assignment. Nobody is notified of what they assigned to themselves. A service whose caller commits
(routing rules) queues with `after_commit`: the same `assigned` runs once the session commits, one message
per person for the batch, and nothing goes out if it rolls back.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session

from careline.settings import get_settings

log = logging.getLogger(__name__)
Notifier = Callable[[str, str, str], bool]


def _default_notifier() -> Notifier | None:
    from careline.services.delivery import apprise_notify  # apprise is a runtime dependency: no guard

    return apprise_notify


def message(mentions: Sequence[tuple[int, str, str]], actor: str) -> tuple[str, str]:
    """(title, body) for (id, platform, text) mentions; the text is shortened, as chat apps render markup."""
    from careline.services.delivery import chat_safe

    title = (f"Careline: mention #{mentions[0][0]} assigned to you" if len(mentions) == 1
             else f"Careline: {len(mentions)} mentions assigned to you")
    lines = [f"#{mid} on {platform}: {chat_safe(text, 160)}" for mid, platform, text in mentions[:10]]
    more = [f"... and {len(mentions) - 10} more"] if len(mentions) > 10 else []
    return title, "\n".join([f"Assigned by {chat_safe(actor, 60)}.", *lines, *more])


def assigned(assignee: str | None, actor: str, mentions: Sequence[tuple[int, str, str]],
             notifier: Notifier | None = None, wait: bool = False) -> threading.Thread | None:
    """Notify `assignee` (if they have a URL and did not assign it themselves). Returns the sending thread."""
    if not assignee or assignee == actor or not mentions:
        return None
    url = get_settings().assign_notify_urls.get(assignee)
    if url is None:
        return None
    send = notifier or _default_notifier()
    if send is None:
        return None
    title, body = message(mentions, actor)

    def _run() -> None:
        try:
            ok = send(url.get_secret_value(), title, body)
        except Exception as exc:  # noqa: BLE001 - a notification must never fail the assignment
            log.warning("assignment notification to %s failed: %s", assignee, type(exc).__name__)
            return
        (log.info if ok else log.warning)("assignment notification to %s %s", assignee,
                                          "sent" if ok else "was not delivered")

    thread = threading.Thread(target=_run, name="careline-assign-notify", daemon=True)
    thread.start()
    if wait:
        thread.join(timeout=30)
    return thread


_QUEUE = "careline.assign_notify.queue"


def after_commit(session: Session, assignee: str | None, actor: str,
                 mentions: Sequence[tuple[int, str, str]]) -> None:
    """Notify `assignee` through `assigned` once `session` commits (dropped if it rolls back)."""
    if assignee and mentions and assignee != actor:
        session.info.setdefault(_QUEUE, {}).setdefault((assignee, actor), []).extend(mentions)


@event.listens_for(Session, "after_commit")
def _send_queued(session: Session) -> None:
    for (assignee, actor), mentions in session.info.pop(_QUEUE, {}).items():
        assigned(assignee, actor, mentions)


@event.listens_for(Session, "after_rollback")
def _drop_queued(session: Session) -> None:
    session.info.pop(_QUEUE, None)
