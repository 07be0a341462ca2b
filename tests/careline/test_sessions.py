"""Dashboard sessions and sign-in protection, on SQLite and PostgreSQL: tokens hashed at rest, signed
cookies, expiry, revocation, role changes seen at once, lockout that lifts, equal cost for unknown users."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.errors import InvalidInput
from careline.models import AuditEvent, SignInThrottle, UserSession, utcnow
from careline.services import sessions, signin, users
from careline.settings import Settings


@pytest.fixture
def desk(any_engine: Engine, settings: Settings) -> Session:
    with Session(any_engine, expire_on_commit=False) as s:
        users.create_user(s, "admin", "admin-password", role="admin")
        users.create_user(s, "agent", "agent-password", role="agent")
        yield s


def _signed_in(s: Session, settings: Settings, name: str = "agent") -> tuple[UserSession, str]:
    user = users.get(s, name)
    row, code = sessions.start(s, user, settings, client="10.0.0.1")
    cookie = sessions.redeem_handoff(s, code, settings)
    assert cookie is not None
    return row, cookie


def test_cookie_resumes_the_session_and_only_a_hash_is_stored(desk: Session, settings: Settings) -> None:
    row, cookie = _signed_in(desk, settings)
    token = cookie.split(".")[0]
    stored = desk.get(UserSession, row.id)
    assert stored.token_hash and token not in (stored.token_hash or "") and stored.handoff_hash is None
    found = sessions.resume(desk, cookie, settings)
    assert found is not None and found[1].username == "agent" and found[0].id == row.id
    # the hand-off code works once; a tampered cookie or one signed with another key finds nothing
    assert sessions.redeem_handoff(desk, "used-or-made-up", settings) is None
    assert sessions.resume(desk, cookie[:-2] + "xx", settings) is None
    other = Settings(data_dir=settings.data_dir, session_secret="another-key", _env_file=None)  # type: ignore[call-arg]
    assert sessions.resume(desk, cookie, other) is None


def test_handoff_code_expires_after_a_minute(desk: Session, settings: Settings) -> None:
    row, code = sessions.start(desk, users.get(desk, "agent"), settings)
    row.handoff_expires_at = utcnow() - timedelta(seconds=1)
    desk.add(row)
    desk.commit()
    assert sessions.redeem_handoff(desk, code, settings) is None


def test_sign_out_everywhere_disable_remove_and_idle_end_sessions(desk: Session, settings: Settings) -> None:
    a, cookie_a = _signed_in(desk, settings)
    b, cookie_b = _signed_in(desk, settings)
    sessions.end(desk, a.id)
    assert sessions.resume(desk, cookie_a, settings) is None and sessions.resume(desk, cookie_b, settings)
    assert sessions.end_all(desk, "agent") == 1
    assert sessions.check(desk, b.id, settings) is None
    c, _ = _signed_in(desk, settings)
    users.set_active(desk, "agent", False, "admin")
    assert sessions.check(desk, c.id, settings) is None
    users.set_active(desk, "agent", True, "admin")
    d, _ = _signed_in(desk, settings)
    d.last_seen_at = utcnow() - timedelta(minutes=settings.session_idle_minutes + 1)
    desk.add(d)
    desk.commit()
    assert sessions.check(desk, d.id, settings) is None
    e, _ = _signed_in(desk, settings)
    assert users.remove(desk, "agent", "admin") == "agent"
    assert sessions.check(desk, e.id, settings) is None and users.get(desk, "agent") is None
    actions = [ev.action for ev in desk.exec(select(AuditEvent).where(AuditEvent.actor == "admin"))]
    assert {"user_disable", "user_enable", "user_remove"} <= set(actions)


def test_sign_out_ends_the_session_and_audits_it_in_one_transaction(desk: Session, settings: Settings,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    a, cookie_a = _signed_in(desk, settings)
    b, cookie_b = _signed_in(desk, settings)
    c, cookie_c = _signed_in(desk, settings)
    with caplog.at_level(logging.DEBUG):
        assert sessions.sign_out(desk, "agent", a.id) == 1
    assert not desk.dirty and not desk.new  # committed, the audit row with it
    assert sessions.resume(desk, cookie_a, settings) is None  # a reload with the old cookie: signed out
    assert sessions.resume(desk, cookie_b, settings) is not None
    assert sessions.sign_out(desk, "agent", a.id) == 0  # a second click: nothing left to end, still audited
    assert sessions.sign_out(desk, "agent", b.id, everywhere=True) == 2
    assert sessions.resume(desk, cookie_b, settings) is None and sessions.resume(desk, cookie_c, settings) is None
    rows = list(desk.exec(select(AuditEvent).where(AuditEvent.action == "sign_out").order_by(AuditEvent.id)))
    assert [(r.actor, r.detail) for r in rows] == [("agent", {"everywhere": False, "ended": 1}),
                                                  ("agent", {"everywhere": False, "ended": 0}),
                                                  ("agent", {"everywhere": True, "ended": 2})]
    assert not any(cookie.split(".")[0] in caplog.text for cookie in (cookie_a, cookie_b, cookie_c))


def test_role_change_is_seen_by_an_open_session_and_the_last_admin_stays(desk: Session, settings: Settings) -> None:
    row, _ = _signed_in(desk, settings)
    users.set_role(desk, "agent", "viewer", "admin")
    assert sessions.check(desk, row.id, settings).role == "viewer"
    with pytest.raises(InvalidInput, match="last active admin"):
        users.set_active(desk, "admin", False, "admin")
    with pytest.raises(InvalidInput, match="last active admin"):
        users.set_role(desk, "admin", "agent", "admin")


def test_promotion_ends_open_sessions_and_demotion_keeps_them(desk: Session, settings: Settings) -> None:
    row, cookie = _signed_in(desk, settings)
    users.set_role(desk, "agent", "viewer", "admin")  # fewer rights: seen at the next click, still signed in
    assert sessions.check(desk, row.id, settings).role == "viewer"
    users.set_role(desk, "agent", "admin", "admin")  # more rights: only with a token from a fresh sign-in
    assert sessions.check(desk, row.id, settings) is None and sessions.resume(desk, cookie, settings) is None
    event = desk.exec(select(AuditEvent).where(AuditEvent.action == "user_role")).all()[-1]
    assert event.detail["sessions_ended"] == 1
    again, new_cookie = _signed_in(desk, settings)
    assert sessions.check(desk, again.id, settings).role == "admin" and new_cookie != cookie


def test_sign_in_always_issues_a_new_token_and_ends_the_browsers_old_session(desk: Session,
                                                                             settings: Settings) -> None:
    first, cookie = _signed_in(desk, settings)
    row, code = sessions.start(desk, users.get(desk, "admin"), settings, replaces=cookie)
    second = sessions.redeem_handoff(desk, code, settings)
    assert second is not None and second.split(".")[0] != cookie.split(".")[0]
    assert sessions.resume(desk, cookie, settings) is None  # the agent's session on this browser is over
    assert sessions.resume(desk, second, settings)[1].username == "admin"
    assert sessions.redeem_handoff(desk, code, settings) is None  # the hand-off code works once


def test_new_password_ends_open_sessions(desk: Session, settings: Settings) -> None:
    row, _ = _signed_in(desk, settings)
    users.set_password(desk, "agent", "a-new-password", "admin")
    assert sessions.check(desk, row.id, settings) is None
    assert users.authenticate(desk, "agent", "a-new-password") is not None


def test_failures_slow_down_lock_and_the_lock_lifts(desk: Session, settings: Settings,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    quick = settings.model_copy(update={"signin_lock_after": 3, "signin_lock_seconds": 1,
                                        "signin_delay_seconds": 0.1})
    slept: list[float] = []
    caplog.set_level(logging.INFO)
    for _ in range(3):
        out = signin.attempt(desk, "agent", "guess-123", "10.0.0.9", quick, sleep=slept.append)
        assert out.user is None
    assert slept == [0.1, 0.2, 0.4]  # doubles per failure
    assert "Too many failed sign-ins" in (out.message or "")
    # locked: even the right password is refused, without checking it
    out = signin.attempt(desk, "agent", "agent-password", "10.0.0.9", quick, sleep=slept.append)
    assert out.user is None and out.locked_until is not None
    time.sleep(1.1)
    out = signin.attempt(desk, "agent", "agent-password", "10.0.0.9", quick, sleep=slept.append)
    assert out.user is not None and out.user.username == "agent"
    assert desk.get(SignInThrottle, "user:agent").failures == 0
    actions = [e.action for e in desk.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("sign_in_failed") == 3 and "sign_in_lock" in actions
    assert "sign_in_refused_locked" in actions and actions[-1] == "sign_in"
    details = " ".join(str(e.detail) for e in desk.exec(select(AuditEvent)))
    assert "guess-123" not in details and "agent-password" not in details
    assert "guess-123" not in caplog.text and "agent-password" not in caplog.text


def test_unknown_user_is_locked_like_a_real_one(desk: Session, settings: Settings) -> None:
    quick = settings.model_copy(update={"signin_lock_after": 2, "signin_delay_seconds": 0})
    for _ in range(2):
        signin.attempt(desk, "nobody", "x" * 8, "10.0.0.2", quick, sleep=lambda _s: None)
    out = signin.attempt(desk, "nobody", "x" * 8, "10.0.0.2", quick, sleep=lambda _s: None)
    assert out.locked_until is not None and "Too many" in (out.message or "")


def test_unknown_user_costs_the_same_as_a_wrong_password(desk: Session) -> None:
    def cost(name: str) -> float:
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            users.authenticate(desk, name, "wrong-password")
            best = min(best, time.perf_counter() - t)
        return best

    users.dummy_check()  # the fixed hash is made once, outside the timing
    known, unknown = cost("agent"), cost("no-such-user")
    assert 0.5 < unknown / known < 2.0, (known, unknown)
