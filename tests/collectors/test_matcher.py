"""collectors/matcher.py: the one set of keyword, handle and exclusion rules for search collectors and streams."""
from __future__ import annotations

from collectors.base import Query
from collectors.matcher import Matcher, Rule, excluded
from collectors.screen import screen

ACME = Rule("Acme Air", terms=("acme air", "acmeair"), handles=("AcmeAir",), exclusions=("air fryer",))
GLOBEX = Rule("Globex", terms=("globex", "#globexcares"), handles=("@globex",))


def brands(text: str, author: str | None = None) -> list[str]:
    return Matcher([ACME, GLOBEX]).match(text, author=author)


def test_keywords_match_whole_words_and_phrases_case_insensitively() -> None:
    assert brands("Flying ACME   Air\ntoday!") == ["Acme Air"]
    assert brands("love #AcmeAir") == ["Acme Air"]
    assert brands("acmeairways is not us") == []
    assert brands("acme airways is not us either") == []
    assert brands("globex's app is down") == ["Globex"]
    assert brands("megaglobex") == []


def test_every_brand_a_text_matches_is_returned_in_rule_order() -> None:
    assert brands("globex vs acme air, who wins?") == ["Acme Air", "Globex"]


def test_handles_match_as_mentions_not_inside_emails_or_longer_handles() -> None:
    assert brands("hey @acmeair my bag is lost") == ["Acme Air"]
    assert brands("cc @Globex.") == ["Globex"]
    handle_only = Matcher([Rule("Globex", terms=("globex corporation",), handles=("globex",))])
    assert handle_only.match("write to help@globex.com") == []
    assert handle_only.match("@globexhelp is someone else") == []
    assert handle_only.match("@globex help") == ["Globex"]


def test_exclusions_drop_only_their_brand() -> None:
    assert brands("my acme air fryer broke") == []
    assert brands("acme air fryer and globex") == ["Globex"]


def test_the_brands_own_posts_are_not_mentions_of_it() -> None:
    assert brands("acme air news: new routes", author="acmeair") == []
    assert brands("acme air news: globex too", author="@AcmeAir") == ["Globex"]


def test_scripts_without_spaces_match_inside_words() -> None:
    matcher = Matcher([Rule("Acme JP", terms=("アクメ",))])
    assert matcher.match("アクメの便が遅れた") == ["Acme JP"]


def test_a_brand_with_several_queries_is_one_brand_and_no_terms_means_its_name() -> None:
    queries = [Query(brand="Initech", key="x:1"), Query(brand="Initech", terms=("tps report",), key="x:1:2")]
    matcher = Matcher.from_queries(queries)
    assert len(matcher) == 1
    assert matcher.match("initech again") == ["Initech"]
    assert matcher.match("another TPS report") == ["Initech"]


def test_empty_rules_and_text_match_nothing() -> None:
    assert Matcher([]).match("anything") == []
    assert Matcher([Rule("Blank", terms=("  ",))]).match("") == []


def test_excluded_keeps_the_search_collectors_substring_semantics() -> None:
    assert excluded("My ACME Air Fryer", ("acme air fryer", "anvil")) == "acme air fryer"
    assert excluded("anvils and air fryers", ("air fryer", "anvil")) == "air fryer"  # earliest listed wins
    assert excluded("nothing here", ("anvil",)) is None
    assert excluded("anything", ("", "  ")) is None


def test_screen_reports_an_excluded_item_with_the_phrase() -> None:
    def parse(item: dict[str, str]) -> object:
        from datetime import datetime, timezone

        from collectors.base import RawMention

        return RawMention(platform="x", external_id=item["id"], text=item["text"],
                          created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))

    result = screen("x", {"id": "1", "text": "acme air fryer deal"}, parse, ("Air Fryer",), id_key="id")
    assert result == "x:1 contains the exclusion 'Air Fryer'"
