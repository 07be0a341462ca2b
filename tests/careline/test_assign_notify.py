"""Assignment notifications: sent to the assignee's apprise URL after the commit, batched for bulk, never to
the person who assigned it to themselves, and a failing notifier never undoes the assignment."""
from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.services import assign_notify, triage
from careline.services.ingest import ingest
from careline.settings import get_settings
from tests.conftest import make_raw


class _Sent(list):  # type: ignore[type-arg]
    """What the notifier was given, and a semaphore released per message (they go out on a thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.done = threading.Semaphore(0)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> _Sent:
    monkeypatch.setenv("CARELINE_ASSIGN_NOTIFY_URLS", '{"dana": "json://localhost/hook"}')
    get_settings.cache_clear()
    got = _Sent()
    done = got.done

    def notifier(url: str, title: str, body: str) -> bool:
        got.append((url, title, body))
        done.release()
        return True

    monkeypatch.setattr(assign_notify, "_default_notifier", lambda: notifier)
    yield got
    get_settings.cache_clear()


def _mentions(session: Session, n: int) -> list[int]:
    b = Brand(name="Acme Air", keywords=["acme air"])
    session.add(b)
    session.commit()
    res = ingest(session, [make_raw(text=f"Acme Air lost bag {i}") for i in range(n)], brand_id=b.id)
    session.commit()
    return list(res.new_ids)


def test_assign_notifies_the_assignee_once_and_bulk_is_one_message(session: Session, sent) -> None:  # type: ignore[no-untyped-def]
    ids = _mentions(session, 3)
    triage.assign(session, ids[0], "dana", "admin")
    assert sent.done.acquire(timeout=5)
    url, title, body = sent[0]
    assert url == "json://localhost/hook" and title == f"Careline: mention #{ids[0]} assigned to you"
    assert "Assigned by admin." in body and "lost bag 0" in body
    triage.assign(session, ids[0], "dana", "admin")  # already hers: nothing new to say
    triage.bulk(session, ids, "assign", "admin", "dana")
    assert sent.done.acquire(timeout=5)
    assert len(sent) == 2 and sent[1][1] == "Careline: 2 mentions assigned to you"
    triage.assign(session, ids[1], None, "admin")
    triage.assign(session, ids[1], "dana", "dana")  # she took it herself
    triage.assign(session, ids[2], "sam", "admin")  # sam has no URL
    assert not sent.done.acquire(timeout=0.5) and len(sent) == 2


def test_a_failing_notifier_never_undoes_the_assignment(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELINE_ASSIGN_NOTIFY_URLS", '{"dana": "json://localhost/hook"}')
    get_settings.cache_clear()

    def broken(url: str, title: str, body: str) -> bool:
        raise ConnectionError("no route to host")

    thread = assign_notify.assigned("dana", "admin", [(1, "x", "text")], notifier=broken, wait=True)
    assert thread is not None and not thread.is_alive()
    ids = _mentions(session, 1)
    monkeypatch.setattr(assign_notify, "_default_notifier", lambda: broken)
    triage.assign(session, ids[0], "dana", "admin")
    assert session.get(Mention, ids[0]).assignee == "dana"
    get_settings.cache_clear()
