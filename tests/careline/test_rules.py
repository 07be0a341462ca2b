"""Rules with one home each (careline/services): the page, the CLI and the queue agree because they ask
the same function."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from careline.errors import InvalidInput
from careline.models import Mention
from careline.services import app_settings, replies, users
from careline.services.ingest import ingest
from tests.conftest import make_raw


def _mention(session: Session, **kw: object) -> Mention:
    result = ingest(session, [make_raw(**kw)])
    mention = session.get(Mention, result.new_ids[0])
    assert mention is not None
    return mention


def test_composer_counter_is_the_queue_rule_on_mastodon(session: Session) -> None:
    m = _mention(session, platform="mastodon", author_handle="bob@mastodon.social")
    # the instance says 500 (learnt by the sender); the reply starts with "@bob@mastodon.social ", which
    # Mastodon counts as "@bob " (5): 498 typed characters are 503 posted
    app_settings.put(session, replies.MASTODON_LIMIT_KEY, 500)
    size = replies.measure(session, m, "a" * 498)
    assert (size.length, size.limit) == (503, 500) and size.problem
    with pytest.raises(InvalidInput) as refused:
        replies.queue_reply(session, m.id, "a" * 498, "kim")  # type: ignore[arg-type]
    assert str(refused.value) == size.problem
    app_settings.put(session, replies.MASTODON_LIMIT_KEY, 1000)  # a bigger instance: the counter follows
    assert replies.measure(session, m, "a" * 498).problem is None
    assert replies.queue_reply(session, m.id, "a" * 498, "kim").id  # type: ignore[arg-type]


def test_hacker_news_cannot_be_replied_to(session: Session) -> None:
    m = _mention(session, platform="hackernews")
    assert "no reply API" in (replies.cannot_reply("hackernews") or "")
    assert replies.cannot_reply("x") is None
    assert replies.measure(session, m, "hi").problem == replies.cannot_reply("hackernews")
    with pytest.raises(InvalidInput, match="no reply API"):
        replies.queue_reply(session, m.id, "hi", "kim")  # type: ignore[arg-type]


def test_who_can_be_assigned(session: Session) -> None:
    for name, role in (("ann", "admin"), ("kim", "agent"), ("vic", "viewer"), ("old", "agent")):
        users.create_user(session, name, "password-123", role=role)
    users.set_active(session, "old", False, actor="ann")
    assert users.assignable(session) == ["ann", "kim"]


def test_template_variables_in_one_place(session: Session) -> None:
    values = app_settings.template_values("x", "fan1", None, "Acme Air")
    assert values == {"author": "@fan1", "name": "fan1", "brand": "Acme Air", "platform": "x"}
    assert app_settings.template_values("x", None, None, "Acme Air")["author"] == "there"
    assert app_settings.thanks_text(session, "x", "fan1", "Fan One", "Acme Air") == (
        "Thank you so much, @fan1! We're thrilled you enjoyed it. – Acme Air")
    for name in ("author", "name", "brand", "platform"):
        assert "{" + name + "}" in app_settings.TEMPLATE_HELP


def test_single_sign_on_finds_an_active_user_by_email_then_name(session: Session) -> None:
    users.create_user(session, "kim@example.com", "password-123")
    assert users.active_by_names(session, ["", "KIM@example.com "]).username == "kim@example.com"  # type: ignore[union-attr]
    users.set_active(session, "kim@example.com", False, actor="ann")
    assert users.active_by_names(session, ["kim@example.com"]) is None
