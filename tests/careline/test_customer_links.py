"""Link suggestions, merge, split and undo: a person confirms, everything is audited and reversible."""
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from careline.errors import Conflict, PermissionDenied
from careline.models import AuditEvent, Brand, Customer, CustomerIdentity, LinkSuggestion
from careline.services import customer_links, customers
from careline.services.customer_links import handle_key, name_key, url_key
from careline.services.ingest import ingest
from tests.conftest import make_raw


def _brand(s: Session) -> int:
    b = Brand(name="Acme Air", keywords=["acme"])
    s.add(b)
    s.commit()
    return b.id or 0


def _ident(s: Session, platform: str, handle: str) -> CustomerIdentity:
    return s.exec(select(CustomerIdentity).where(CustomerIdentity.platform == platform,
                                                 CustomerIdentity.handle == handle)).one()


def _load(s: Session) -> None:
    bid = _brand(s)
    ingest(s, [
        # same handle and name on X and Bluesky
        make_raw(platform="x", author_handle="samtravels", author_name="Sam Travels"),
        make_raw(platform="bluesky", author_handle="samtravels.bsky.social", author_name="Sam Travels"),
        # Mastodon profile with a verified link to an X profile, which links back (mutual)
        make_raw(platform="mastodon", author_handle="nina@mastodon.social", author_name="Nina",
                 author_url="https://mastodon.social/@nina", author_links=["https://twitter.com/NinaFlies"],
                 author_verified_links=["https://twitter.com/NinaFlies"]),
        make_raw(platform="x", author_handle="NinaFlies", author_name="Nina F",
                 author_links=["https://mastodon.social/@nina/"]),
        # same display name and the same personal website
        make_raw(platform="reddit", author_handle="throwaway_jo", author_name="Jo Bloggs",
                 author_links=["https://jobloggs.example/"]),
        make_raw(platform="bluesky", author_handle="jobloggs.example", author_name="Jo Bloggs"),
        # unrelated people who share a hub link: more than HUB_SIZE profiles list it
        *[make_raw(platform="x", author_handle=f"fan{i}", author_name=f"Fan {i}",
                   author_links=["https://linktr.ee/"]) for i in range(customer_links.HUB_SIZE + 1)],
    ], brand_id=bid)


def test_keys_normalise_handles_names_and_urls() -> None:
    assert handle_key("mastodon", "@Sam@mastodon.social") == "sam"
    assert handle_key("bluesky", "sam.bsky.social") == "sam"
    assert name_key("  Sam   TRAVELS ✈️ ") == "sam travels"
    assert url_key("https://www.Twitter.com/Sam/") == url_key("x.com/sam") == "x.com/sam"
    assert url_key("not a url") is None


def test_suggestions_find_the_signals_and_nothing_is_merged(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        _load(s)
        before = len(s.exec(select(Customer)).all())
        result = customer_links.suggest(s)
        assert result.full and result.keyed >= 12
        by_pair = {frozenset((x.identity_a, x.identity_b)): x for x in s.exec(select(LinkSuggestion))}

        def reasons(a: tuple[str, str], b: tuple[str, str]) -> list[str]:
            return by_pair[frozenset((_ident(s, *a).id, _ident(s, *b).id))].reasons

        assert reasons(("x", "samtravels"), ("bluesky", "samtravels.bsky.social")) == ["same_handle_and_name"]
        assert reasons(("mastodon", "nina@mastodon.social"), ("x", "NinaFlies")) == ["mutual_link"]
        assert "same_name_and_link" in reasons(("reddit", "throwaway_jo"), ("bluesky", "jobloggs.example"))
        assert len(by_pair) == 3  # the hub link suggests nobody
        assert len(s.exec(select(Customer)).all()) == before  # nothing merged without a person
        again = customer_links.suggest(s)
        assert not again.full and again.new == 0 and again.keyed == 0  # incremental: nothing touched since


def test_accept_merges_split_and_undo_restore(session: Session) -> None:
    _load(session)
    customer_links.suggest(session)
    x, bsky = _ident(session, "x", "samtravels"), _ident(session, "bluesky", "samtravels.bsky.social")
    sug = next(v for v in customer_links.open_suggestions(session) if {v.identity_a, v.identity_b} == {x.id, bsky.id})
    with pytest.raises(PermissionDenied):
        customers.accept_suggestion(session, sug.id or 0, "vic", "viewer")
    old_bsky_customer = bsky.customer_id
    customers.add_note(session, old_bsky_customer, "prefers DMs", "kim", "agent")
    change = customers.accept_suggestion(session, sug.id or 0, "kim", "agent")
    session.expire_all()
    merged = customers.for_author(session, "bluesky", "samtravels.bsky.social")
    assert merged is not None and merged.id == customers.for_author(session, "x", "samtravels").id  # type: ignore[union-attr]
    assert merged.mention_count == 2 and len(customers.identities(session, merged.id or 0)) == 2
    assert [n.text for n in customers.notes(session, merged.id or 0)] == ["prefers DMs"]
    assert customers.get(session, old_bsky_customer).id == merged.id  # the old id leads to the kept customer
    assert session.get(LinkSuggestion, sug.id).state == "accepted"  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        customers.accept_suggestion(session, sug.id or 0, "kim", "agent")

    customers.undo(session, change.id or 0, "kim", "agent")
    session.expire_all()
    assert customers.for_author(session, "bluesky", "samtravels.bsky.social").id == old_bsky_customer  # type: ignore[union-attr]
    assert [n.text for n in customers.notes(session, old_bsky_customer)] == ["prefers DMs"]
    assert session.get(LinkSuggestion, sug.id).state == "dismissed"  # type: ignore[union-attr]
    customer_links.suggest(session, full=True)
    assert session.get(LinkSuggestion, sug.id).state == "dismissed"  # type: ignore[union-attr]  # not re-suggested

    keep = customers.for_author(session, "x", "samtravels")
    customers.merge(session, keep.id or 0, old_bsky_customer, "kim", "agent")  # type: ignore[union-attr]
    split = customers.split(session, bsky.id or 0, "kim", "agent")
    session.expire_all()
    alone = customers.for_author(session, "bluesky", "samtravels.bsky.social")
    assert alone is not None and alone.id == split.other_customer_id and alone.mention_count == 1
    with pytest.raises(Conflict):
        customers.split(session, bsky.id or 0, "kim", "agent")  # its only identity
    customers.undo(session, split.id or 0, "kim", "agent")
    session.expire_all()
    assert customers.for_author(session, "bluesky", "samtravels.bsky.social").id == keep.id  # type: ignore[union-attr]
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("customer_merge") == 2 and "customer_split" in actions
    assert "customer_undo_merge" in actions and "customer_undo_split" in actions


def test_auto_merge_only_with_an_admins_rule(session: Session) -> None:
    _load(session)
    with pytest.raises(PermissionDenied):
        customer_links.set_auto_rules(session, ["mutual_link"], "kim", "agent")
    customer_links.set_auto_rules(session, ["mutual_link"], "ada", "admin")
    result = customer_links.suggest(session)
    assert result.auto_merged == 1
    nina = customers.for_author(session, "x", "NinaFlies")
    assert nina is not None and nina.id == customers.for_author(session, "mastodon", "nina@mastodon.social").id  # type: ignore[union-attr]
    assert customers.for_author(session, "x", "samtravels").id != customers.for_author(  # type: ignore[union-attr]
        session, "bluesky", "samtravels.bsky.social").id  # type: ignore[union-attr]
    assert session.exec(select(AuditEvent).where(AuditEvent.actor == "auto-rule:mutual_link")).first() is not None


def test_find_by_handle_on_any_platform_or_name(session: Session) -> None:
    _load(session)
    customer_links.suggest(session)
    assert {c.display_name for c in customers.find(session, "@samtr")} == {"Sam Travels"}
    assert [c.display_name for c in customers.find(session, "bloggs")] == ["Jo Bloggs", "Jo Bloggs"]
