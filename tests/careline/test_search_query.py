"""The search syntax: what each form means, and that no typed text ever makes it raise."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careline import search_words
from careline.errors import InvalidInput
from careline.services.search_query import MAX_QUERY_BYTES, OPERATORS, FieldFilter, Term, parse, tokens


def test_words_phrases_prefixes_and_exclusions() -> None:
    q = parse('lost "my bag" refund* -spam -"gift card"')
    assert q.terms == (Term(("lost",)), Term(("my", "bag")), Term(("refund",), prefix=True),
                       Term(("spam",), negated=True), Term(("gift", "card"), negated=True))
    assert q.note is None and q.filters == ()


def test_field_filters_with_quotes_aliases_and_negation() -> None:
    q = parse('from:@Sam_12 platform:X tag:VIP brand:"Acme Air" -status:resolved is:open lang:EN assignee:me')
    assert q.filters == (FieldFilter("from", "Sam_12"), FieldFilter("platform", "x"), FieldFilter("tag", "vip"),
                         FieldFilter("brand", "Acme Air"), FieldFilter("status", "resolved", negated=True),
                         FieldFilter("status", "open"), FieldFilter("lang", "en"), FieldFilter("assignee", "me"))
    assert q.terms == () and q.note is None


def test_words_split_like_the_indexes_do() -> None:
    assert tokens("Sam_12 flight-412, CAFÉ!") == ["sam", "12", "flight", "412", "café"]
    # folded a character at a time, as FTS5 and PostgreSQL do: no final sigma, no "i" + combining dot
    assert tokens("ΟΔΟΣ οδος İstanbul ǅemal") == ["οδοσ", "οδοσ", "İstanbul", "ǆemal"]
    assert all(w.isalnum() for w in tokens("İİ ΣΣ"))
    assert parse("sam_12").terms == (Term(("sam", "12")),)  # a handle is a phrase of its parts
    # marks belong to words, an emoji (and its variation selector) separates, a query is NFC as the text is
    assert tokens("नमस्ते مَرْحَبًا ½ x² ✈️flight") == ["नमस्ते", "مَرْحَبًا", "½", "x²", "flight"]
    assert parse("cafe\u0301").terms == (Term(("café",)),)


def test_a_word_over_the_limit_is_searched_by_its_first_characters_as_a_prefix() -> None:
    n = search_words.MAX_WORD
    q = parse(f'"lost {"ж" * (n + 9)} bag" -{"q" * (n + 1)}')
    assert q.terms == (Term(("lost",)), Term(("ж" * n,), prefix=True), Term(("bag",)),
                       Term(("q" * n,), prefix=True, negated=True))
    assert q.note == f"A word over {n} characters is searched for by its first {n}"
    assert parse("ж" * n).terms == (Term(("ж" * n,)),) and parse("ж" * n).note is None


@pytest.mark.parametrize("text, why", [
    ('"lost bag', "quote is not closed"),
    ("refund - spam", "'-' needs a word"),
    ("refund OR cancel", "OR is not an operator"),
    ("NEAR(lost bag)", "has no meaning"),
    ("lo*st", "'*' goes at the end"),
    ("*", "'*' goes at the end"),
    ("https://example.com/x", "'https:' is not a filter"),
    ("from:", "from: needs a value"),
    ("refund^2", "has no meaning"),
])
def test_syntax_errors_fall_back_to_plain_words_with_a_note(text: str, why: str) -> None:
    q = parse(text)
    assert q.note and why in q.note and q.note.endswith("plain words instead.")
    assert "\n" not in q.note
    assert q.filters == () and all(not t.negated and not t.prefix and len(t.words) == 1 for t in q.terms)
    expected = dict.fromkeys(w.lower() for w in re.findall(r"[^\W_]+", text) if w not in OPERATORS)
    assert [t.words[0] for t in q.terms] == list(expected)


def test_fallback_keeps_the_words_and_drops_accidental_operators() -> None:
    assert [str(t) for t in parse('refund OR "cancel').terms] == ["refund", "cancel"]


def test_short_prefix_is_read_as_the_word_with_a_note() -> None:
    q = parse("a*")
    assert q.terms == (Term(("a",)),) and q.note and "too short" in q.note


def test_a_huge_query_is_refused_in_one_sentence() -> None:
    with pytest.raises(InvalidInput) as err:
        parse("refund " * 1500)  # ~10 kB
    assert str(err.value).count(".") == 1 and f"{MAX_QUERY_BYTES:,}" in str(err.value)


def test_empty_and_punctuation_only() -> None:
    assert parse("").empty and parse("   ").empty and parse("!!! ...").empty


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list('ab -"*:()^{}+@_\'é1\t') + ["from:", "tag:", " OR ", "NOT", "\x00"])
                | st.characters(), max_size=40).map("".join))
def test_never_raises_and_terms_are_index_safe(text: str) -> None:
    q = parse(text)
    for t in q.terms:
        # one word each as both indexes split it, already folded, and never a quote (SQL and FTS5 quoting)
        assert t.words and all(search_words.WORD.fullmatch(w) and search_words.fold(w) == w
                               and len(w) <= search_words.MAX_WORD for w in t.words)
    assert q.note is None or "\n" not in q.note


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    parse(text)


def test_snippet_marks_hits_as_plain_text() -> None:
    from careline.services.search import hit_spans, snippet

    q = parse('"lost bag" refund*')
    text = "My <b>lost   bag</b>, and **no** Refunds. lost luggage"
    assert snippet(text, q) == "My <b>«lost bag»</b>, and **no** «Refunds». lost luggage"
    assert hit_spans("nothing here", q) == []
    assert snippet("Η ΟΔΟΣ, η οδος", parse("οδος")) == "Η «ΟΔΟΣ», η «οδος»"  # folded as the query is
    long = "word " * 100 + "lost bag" + " tail" * 100
    cut = snippet(long, q, width=60)
    assert cut.startswith("…") and cut.endswith("…") and "«lost bag»" in cut and len(cut) <= 64
