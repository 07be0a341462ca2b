"""One matcher for every brand's keywords, handles and exclusions, shared by the search collectors and streams.

The search collectors let the platform match keywords and apply exclusions to what comes back; the streams
(Jetstream, Mastodon hashtags) see every post and match everything locally. Both use the rules here, so a
post means the same brands whichever way it arrived:

- a keyword matches case-insensitively as a whole word or phrase: "acme air" matches "ACME  Air!" and
  "#acme air" but not "acmeair" or "acme airways"; runs of whitespace count as one space. In scripts written
  without spaces (Chinese, Japanese, Thai...) a keyword matches inside a run of letters, as the platforms'
  search does;
- a handle ("acme" or "@acme") matches "@acme" not followed by a letter or digit (and not inside an email
  address);
- an exclusion matches case-insensitively anywhere in the text (a substring, as before): one exclusion
  drops that brand only;
- a post written by one of the brand's own handles is not a mention of it (X's `-from:`), when the caller
  passes the author.

A brand's hand-written query (the "query" option) is platform search syntax; local matching uses the brand's
keywords instead.

Compiled once into one Aho-Corasick automaton (pyahocorasick, C): one pass over the lower-cased text finds
every pattern of every brand, so the cost hardly grows with the number of brands. Measured by
benchmarks/stream_matcher.py (50 brands x 10 keywords, generated posts of 156 characters on average):
about 225,000 posts/s on one core, 58 MB peak RSS.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from collectors.base import Query

_TERM, _HANDLE, _EXCLUSION = 0, 1, 2
# Scripts written without spaces between words: a keyword there matches inside a run of letters.
_NO_SPACE_RANGES = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x3400, 0x9FFF),
                    (0xF900, 0xFAFF), (0xFF66, 0xFF9F))


@dataclass(frozen=True)
class Rule:
    """What one brand listens for."""

    brand: str
    terms: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Query) -> "Rule":
        terms = tuple(t for t in query.terms if t.strip()) or (query.brand,)
        return cls(brand=query.brand, terms=terms, handles=tuple(query.handles), exclusions=tuple(query.exclusions))


def normalise(text: str) -> str:
    """Lower case, NFC, every run of whitespace one space: the form both patterns and texts are matched in."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.lower().split())


def _handle(value: str) -> str:
    return normalise(value).lstrip("@")


def _no_space(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _NO_SPACE_RANGES)


def _wordish(ch: str) -> bool:
    return (ch.isalnum() or ch == "_") and not _no_space(ch)


class Matcher:
    """Every brand's rules compiled once; `match` returns all brands a text mentions."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        merged: dict[str, Rule] = {}
        for rule in rules:  # a brand with several per-platform queries is one brand
            old = merged.get(rule.brand)
            merged[rule.brand] = rule if old is None else Rule(
                rule.brand, old.terms + rule.terms, old.handles + rule.handles, old.exclusions + rule.exclusions)
        self.rules: list[Rule] = list(merged.values())
        self._own: list[frozenset[str]] = [frozenset(_handle(h) for h in r.handles if h.strip("@ "))
                                           for r in self.rules]
        patterns: dict[str, list[tuple[int, int]]] = {}
        for i, rule in enumerate(self.rules):
            for term in rule.terms:
                if normalise(term):
                    patterns.setdefault(normalise(term), []).append((i, _TERM))
            for handle in self._own[i]:
                patterns.setdefault("@" + handle, []).append((i, _HANDLE))
            for phrase in rule.exclusions:
                if normalise(phrase):
                    patterns.setdefault(normalise(phrase), []).append((i, _EXCLUSION))
        self._automaton: ahocorasick.Automaton | None = None
        if patterns:
            automaton = ahocorasick.Automaton()
            for pattern, targets in patterns.items():
                automaton.add_word(pattern, (len(pattern), tuple(targets)))
            automaton.make_automaton()
            self._automaton = automaton

    @classmethod
    def from_queries(cls, queries: Iterable[Query]) -> "Matcher":
        return cls(Rule.from_query(q) for q in queries)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, text: str, author: str | None = None) -> list[str]:
        """The brands (names, in rule order) the text mentions, after each brand's exclusions."""
        if self._automaton is None or not text:
            return []
        low = normalise(text)
        hits: set[int] = set()
        dropped: set[int] = set()
        for end, (length, targets) in self._automaton.iter(low):
            start = end - length + 1
            bounded: bool | None = None
            for index, kind in targets:
                if kind == _EXCLUSION:
                    dropped.add(index)
                elif index not in hits:
                    if bounded is None:
                        bounded = _bounded(low, start, end, handle=kind == _HANDLE)
                    if bounded:
                        hits.add(index)
        hits -= dropped
        if author and hits:
            who = _handle(author)
            hits = {i for i in hits if who not in self._own[i]}
        return [self.rules[i].brand for i in sorted(hits)]


def _bounded(low: str, start: int, end: int, *, handle: bool) -> bool:
    """Whether low[start:end+1] stands as a whole word (see the module docstring)."""
    if start > 0:
        before = low[start - 1]
        if handle:
            if before.isalnum() or before in "_.@":  # bob@acme.com is an email address, not a mention
                return False
        elif _wordish(before) and _wordish(low[start]):
            return False
    if end + 1 < len(low):
        after = low[end + 1]
        if _wordish(after) and _wordish(low[end]):
            return False
        if handle and after.isalnum():
            return False
    return True


@lru_cache(maxsize=1024)
def _exclusion_automaton(exclusions: tuple[str, ...]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for order, phrase in enumerate(exclusions):
        key = normalise(phrase)
        if key and key not in automaton:
            automaton.add_word(key, (order, phrase))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def excluded(text: str, exclusions: tuple[str, ...]) -> str | None:
    """The exclusion a text contains (case-insensitive substring; the earliest listed wins), or None.

    What the search collectors apply to the results the platform matched on keywords.
    """
    automaton = _exclusion_automaton(tuple(exclusions))
    if automaton is None or not text:
        return None
    found = [value for _end, value in automaton.iter(normalise(text))]
    return min(found)[1] if found else None
