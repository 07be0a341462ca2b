"""The search box's syntax, parsed into words, phrases, prefixes, exclusions and field filters.

    lost bag            both words, anywhere in the text, author handle or author name
    "lost bag"          the phrase
    refund*             words starting with "refund"
    -spam  -"gift card" leave these out
    from:handle         by this author (a leading @ is fine)      -from:handle leaves them out
    platform:x  tag:vip  brand:"Acme Air"  status:resolved (or status:open / status:all)
    intent:complaint  sentiment:negative  lang:en  assignee:me (or assignee:none)

Mistakes never raise: an unbalanced quote, a lone `-`, a misplaced `*`, an unknown `field:` or an
operator typed by accident (AND, OR, NOT, NEAR, brackets) turn the whole query into plain words, and
`ParsedQuery.note` says so in one line. Only a query over `MAX_QUERY_BYTES` is refused (InvalidInput).

Words are split the way both databases' indexes split them (careline/search_words.py: punctuation,
symbols, emoji and spaces separate, underscore included), so "sam_12" is the phrase "sam 12" on SQLite
FTS5 and PostgreSQL alike. A word over search_words.MAX_WORD characters is searched for as a prefix of
its first MAX_WORD characters, on both databases (PostgreSQL indexes no more of a word), with a note.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from careline import search_words
from careline.errors import InvalidInput
from careline.search_words import MAX_WORD, fold

MAX_QUERY_BYTES = 2_000
FIELDS = ("from", "platform", "tag", "brand", "status", "intent", "sentiment", "lang", "assignee")
ALIASES = {"by": "from", "author": "from", "language": "lang", "assigned": "assignee", "is": "status"}
OPERATORS = {"AND", "OR", "NOT", "NEAR"}
_STRAY = set("(){}[]^+:*\"")


def tokens(text: str) -> list[str]:
    """Words as the indexes see them, case-folded (search_words.words)."""
    return search_words.words(text)


@dataclass(frozen=True)
class Term:
    """One word, phrase (several tokens in a row) or prefix (the last token is a prefix)."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False

    def __str__(self) -> str:
        body = " ".join(self.words)
        body = f'"{body}"' if len(self.words) > 1 else body
        return ("-" if self.negated else "") + body + ("*" if self.prefix else "")


@dataclass(frozen=True)
class FieldFilter:
    field: str
    value: str
    negated: bool = False

    def __str__(self) -> str:
        value = f'"{self.value}"' if " " in self.value else self.value
        return f"{'-' if self.negated else ''}{self.field}:{value}"


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[Term, ...] = ()
    filters: tuple[FieldFilter, ...] = ()
    note: str | None = None  # one line for the person when the query was read differently than typed

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)

    @property
    def empty(self) -> bool:
        return not self.terms and not self.filters

    def values(self, name: str, negated: bool = False) -> list[str]:
        return [f.value for f in self.filters if f.field == name and f.negated == negated]

    def __str__(self) -> str:
        return " ".join([*(str(t) for t in self.terms), *(str(f) for f in self.filters)])


class _SyntaxProblem(Exception):
    """Internal: why the query is read as plain words instead (the text becomes the note)."""


def parse(text: str | None) -> ParsedQuery:
    """Parse a search box query. Never raises for bad syntax; refuses only an over-long query."""
    text = text or ""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise InvalidInput(f"A search can be at most {MAX_QUERY_BYTES:,} bytes long; shorten it to the words "
                           "that matter.")
    return _parse_cached(unicodedata.normalize("NFC", text))  # as ingest stores the text (ingest_rows.clean_text)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> ParsedQuery:
    try:
        terms, filters, notes = _parse_strict(text)
    except _SyntaxProblem as problem:
        long_notes: list[str] = []
        plain = tuple(t for w in dict.fromkeys(_plain_words(text)) for t in _terms((w,), False, False, long_notes))
        return ParsedQuery(terms=plain, note="; ".join([f"{problem} — searched for the plain words instead.",
                                                         *long_notes[:1]]))
    return ParsedQuery(terms=tuple(terms), filters=tuple(filters), note="; ".join(notes) or None)


def _plain_words(text: str) -> list[str]:
    """Every word of the text, operators typed by accident (AND, OR, NOT, NEAR) left out."""
    return [fold(w) for w in search_words.WORD.findall(text) if w not in OPERATORS]


def _pieces(text: str) -> list[str]:
    """Split on whitespace outside double quotes; an unbalanced quote is a syntax problem."""
    out, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch.isspace() and not quoted:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if quoted:
        raise _SyntaxProblem("A quote is not closed")
    if cur:
        out.append("".join(cur))
    return out


def _parse_strict(text: str) -> tuple[list[Term], list[FieldFilter], list[str]]:
    terms: list[Term] = []
    filters: list[FieldFilter] = []
    notes: list[str] = []
    for piece in _pieces(text):
        negated = piece.startswith("-")
        body = piece[1:] if negated else piece
        if not body:
            raise _SyntaxProblem("A '-' needs a word right after it (e.g. -spam)")
        if body in OPERATORS:
            raise _SyntaxProblem(f"{body} is not an operator here (words are all required; -word excludes)")
        name, sep, value = body.partition(":")
        if sep and not name.startswith('"'):
            filters.append(_field(name, value, negated))
            continue
        terms.extend(_term(body, negated, notes))
    return terms, filters, notes


def _field(name: str, value: str, negated: bool) -> FieldFilter:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in FIELDS:
        raise _SyntaxProblem(f"'{name}:' is not a filter (use {', '.join(f + ':' for f in FIELDS)})")
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1]
    elif '"' in value:
        raise _SyntaxProblem(f"Put the whole value of {key}: in quotes")
    value = value.strip()
    if key == "from":
        value = value.lstrip("@")
    if not value:
        raise _SyntaxProblem(f"{key}: needs a value (e.g. {key}:{_EXAMPLES[key]})")
    return FieldFilter(key, value if key in ("brand", "from") else value.lower(), negated)


_EXAMPLES = {"from": "sam_12", "platform": "x", "tag": "vip", "brand": '"Acme Air"', "status": "open",
             "intent": "complaint", "sentiment": "negative", "lang": "en", "assignee": "me"}


def _term(body: str, negated: bool, notes: list[str]) -> list[Term]:
    prefix = body.endswith("*")
    core = body[:-1] if prefix else body
    phrase = core.startswith('"') and core.endswith('"') and len(core) >= 2
    if phrase:
        core = core[1:-1]
    if "*" in core or (prefix and not core):
        raise _SyntaxProblem("'*' goes at the end of a word (e.g. refund*)")
    if not phrase and any(ch in _STRAY for ch in core):
        bad = next(ch for ch in core if ch in _STRAY)
        raise _SyntaxProblem(f"'{bad}' has no meaning in a search")
    words = tuple(tokens(core))
    if not words:
        return []
    if prefix and len(words) == 1 and len(words[0]) < 2:
        notes.append(f"'{body}' is too short for a prefix search: searched the word itself")
        prefix = False
    return _terms(words, prefix, negated, notes)


def _terms(words: tuple[str, ...], prefix: bool, negated: bool, notes: list[str]) -> list[Term]:
    """The term, with each word over MAX_WORD characters made a prefix term of its first MAX_WORD (and a
    phrase around it split there): PostgreSQL indexes a word that long by those characters only."""
    if all(len(w) <= MAX_WORD for w in words):
        return [Term(words, prefix=prefix, negated=negated)]
    if not any(n.startswith("A word over") for n in notes):
        notes.append(f"A word over {MAX_WORD} characters is searched for by its first {MAX_WORD}")
    out: list[Term] = []
    run: list[str] = []
    for w in words:
        if len(w) > MAX_WORD:
            if run:
                out.append(Term(tuple(run), negated=negated))
                run = []
            out.append(Term((w[:MAX_WORD],), prefix=True, negated=negated))
        else:
            run.append(w)
    if run:
        out.append(Term(tuple(run), prefix=prefix, negated=negated))
    return out
