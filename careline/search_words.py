"""What a word is, for the search index and for a query: one rule, applied by SQLite, PostgreSQL and Python.

A word is a run of characters that are not separators (SEPARATORS in careline/search_chars.py: Unicode
14.0's punctuation, symbols, spaces, controls and format characters, and the variation selectors that
follow an emoji), so letters, digits and other numbers (½, ², Ⅻ), combining marks (Devanagari and Arabic
vowel signs, the virama, the shadda), private-use and unassigned code points all belong to words, and an emoji (a symbol) always separates. Twenty-five of
the combining accents (FTS5's "diacritics", CONTINUE_ONLY) continue a word but cannot start one, which
is FTS5's behaviour and not configurable there, so the other two follow it. Words are case-folded one
character at a time with FTS5 unicode61's folds (FOLDS: SQLite's folding cannot be configured; "İ" is
not folded there, so it is not on PostgreSQL either).

Why the rule is spelled out, not left to each database: FTS5 classifies by the Unicode tables compiled
into that SQLite (3.40.1's predate many emoji and split at Devanagari vowel signs), PostgreSQL's parser
by the C library's locale (glibc splits at the virama and at combining accents, and reads ½ and private
use as separators): a differential test found them disagreeing on 4,700 assigned characters (private
use and unassigned code points aside). Now
- SQLite: unicode61 with every non-ASCII separator listed as `separators` and every mark (and the
  characters 3.40.1 split at) as `tokenchars`, so a newer SQLite with other tables agrees too (a new
  connection reads the 11,000-character option once: 1.8 ms instead of 0.14; a MATCH costs the same);
- PostgreSQL: the vector is built by our own function (careline_search_vector) from the words this
  module's pattern finds, not by the text parser; a query's lexemes are cast to a tsquery as they are
  (to_tsquery would split them with the parser again);
- Python (a query, the highlighting): WORD below.
Characters assigned after Unicode 14.0 are words on PostgreSQL and in Python, and whatever that SQLite's
tables say there.

A word longer than MAX_WORD characters is indexed on PostgreSQL as its first MAX_WORD characters
(its lexemes hold at most 2,047 bytes, and 511 characters of up to 4 bytes fit): a query word that
long becomes a prefix search for its first MAX_WORD characters on both databases, so both find the
same mentions (a word that long is found by any query word sharing those characters).
"""
from __future__ import annotations

import re
import string
from functools import lru_cache

from careline import search_chars

MAX_WORD = 511  # characters: 4 bytes each at most, under PostgreSQL's 2,047-byte lexeme limit


def _ranges(table: str) -> list[tuple[int, int]]:
    out = []
    for cell in table.split():
        a, _, b = cell.partition("-")
        out.append((int(a, 16), int(b or a, 16)))
    return out


def _chars(table: str) -> str:
    return "".join(chr(c) for a, b in _ranges(table) for c in range(a, b + 1))


SEPARATORS = _ranges(search_chars.SEPARATORS)
CONTINUE_ONLY = _ranges(search_chars.CONTINUE_ONLY)
FOLDS = {chr(int(a, 16)): chr(int(b, 16)) for a, b in (p.split(":") for p in search_chars.FOLDS.split())}


def _bracket(ranges: list[tuple[int, int]], esc: str) -> str:
    """A bracket expression's body with every character escaped (`esc`: Python's and PostgreSQL's \\u/\\U)."""
    def one(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"

    body = "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in ranges if b > 0)
    return body.replace("\\u0000-", "\\u0001-") if esc == "pg" else body


def word_pattern(dialect: str = "python") -> str:
    """A word: a character that is neither a separator nor continue-only, then any non-separators."""
    seps = _bracket(SEPARATORS, dialect)
    return f"[^{seps}{_bracket(CONTINUE_ONLY, dialect)}][^{seps}]*"


WORD = re.compile(word_pattern())

# FTS5's tokenizer options (non-ASCII only: unicode61's ASCII rule is already letters and digits)
_NON_ASCII_SEPARATORS = "".join(ch for ch in _chars(search_chars.SEPARATORS) if ch >= "\x80")
SQLITE_TOKENIZE = (f"unicode61 remove_diacritics 0 separators '{_NON_ASCII_SEPARATORS}' "
                   f"tokenchars '{_chars(search_chars.TOKEN_CHARS)}'")
SQLITE_TOKENIZE_0004 = "unicode61 remove_diacritics 0"  # migrations 0004-0025 (0026's downgrade)


def fold(word: str) -> str:
    """A word case-folded as FTS5 unicode61 folds it, one character at a time (A-Z, and FOLDS): "ΟΔΟΣ" is
    "οδοσ" (a final sigma is the sigma), "İ" stays "İ" (Python's lower() makes it two characters)."""
    return "".join(_fold_char(ch) for ch in word)


_ASCII_FOLD = dict(zip(string.ascii_uppercase, string.ascii_lowercase))


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return _ASCII_FOLD.get(ch) or FOLDS.get(ch, ch)


def words(text: str) -> list[str]:
    """The folded words of `text`, as both indexes hold them (full length: see MAX_WORD)."""
    return [fold(w) for w in WORD.findall(text)]


PG_FUNCTION = "careline_search_vector"
_Q = "''"  # an SQL string literal's quote, inside one


def pg_function_ddl() -> str:
    """PostgreSQL: the function the generated vector column calls (careline/search_index.py PG_VECTOR).

    The words of the text, the handle and the name, folded, cut to MAX_WORD characters, at positions that
    leave one empty position between the fields, so no phrase runs from the text into the author's handle
    or name (FTS5 keeps each column's positions apart; concatenating the fields, or their tsvectors with
    `||`, puts the name's first word right after the text's last). A-Z are folded for the whole field,
    FOLDS' translate() only in a word holding one of its characters: translate() reads its 1,000-character
    list for every character, which made the vector 1.2 ms a row for accented French text, 0.13 ms with
    the per-word test (ASCII text 0.10 ms, Hindi 0.07; the parser's vector of 0025 took 0.03 ms: 20,000
    rows, PostgreSQL 15). IMMUTABLE: it reads nothing but its arguments, as a generated column needs."""
    src = "".join(FOLDS).replace("'", _Q)
    dst = "".join(FOLDS.values()).replace("'", _Q)
    foldable = _bracket(sorted((ord(c), ord(c)) for c in FOLDS), "pg")
    up, low = string.ascii_uppercase, string.ascii_lowercase
    lexeme = f"'{_Q}' || left(w, {MAX_WORD}) || '{_Q}:' || least(p, 16383)"  # 'word':position
    return (f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}(body text, handle text, name text) RETURNS tsvector "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $careline$ "
            f"SELECT coalesce(string_agg({lexeme}, ' ')::tsvector, ''::tsvector) "
            f"FROM (SELECT CASE WHEN m.w[1] ~ '[{foldable}]' THEN translate(m.w[1], '{src}', '{dst}') "
            "ELSE m.w[1] END AS w, c.f + row_number() OVER (ORDER BY c.f, m.n) AS p "
            "FROM unnest(ARRAY[body, handle, name]) WITH ORDINALITY AS c(v, f), "
            f"regexp_matches(translate(coalesce(c.v, ''), '{up}', '{low}'), '{word_pattern('pg')}', 'g') "
            "WITH ORDINALITY AS m(w, n)) AS words $careline$")
