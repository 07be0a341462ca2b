"""The word rule (careline/search_words.py) is the same in Python, in SQLite's FTS5 and in PostgreSQL: for
every character class, both databases find the same mentions, and each index holds the words Python makes."""
from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from careline import search_chars, search_index, search_words
from careline.services import inbox_search
from careline.services.ingest import ingest
from tests.factories import make_brand, make_raw

LONG = "ж" * 1_500  # 3,000 bytes: one word, over PostgreSQL's 2,047-byte lexeme limit
MENTIONS = [
    ("hindi_1", "Hindi", "मेरा बैग खो गया, नमस्ते दिल्ली"),  # vowel signs (Mc) and the virama (Mn)
    ("arabic_2", "Arabic", "حَقِيبَتِي ضاعت مَرْحَبًا"),  # fatha, kasra, shadda, tanwin (Mn)
    ("frac_3", "Frac", "½ price and x² seats, Ⅻ gate"),  # No and Nl numbers
    ("emoji_4", "Emoji", "🧳bag lost ✈️flight 👍🏽ok"),  # So, and a skin tone (Sk) after an emoji
    ("dot_5", "Dot", "İstanbul and ΟΔΟΣ and ﬁne"),  # İ is not folded by FTS5, nor now by PostgreSQL
    ("phrase_6", "Cross Name", "lost my bag"),  # "bag cross" is text + name: never a phrase
    ("long_7", "Long", f"start {LONG} end"),
    ("plain_8", "Plain", "bag ok istanbul price x 2 gate ο δρομος"),
    ("accent_9", "Accent", "cafe\u0301 \u0301orphan ÉTÉ"),  # a combining accent continues, cannot start
]
CASES = {
    "नमस्ते": ["hindi_1"], "दिल्ली": ["hindi_1"], '"मेरा बैग"': ["hindi_1"], "नमस": [], "नमस*": ["hindi_1"],
    "مَرْحَبًا": ["arabic_2"], "مرحبا": [], "حَقِيبَتِي": ["arabic_2"],
    "½": ["frac_3"], "x²": ["frac_3"], "x": ["plain_8"], "2": ["arabic_2", "plain_8"], "Ⅻ": ["frac_3"], "ⅻ": ["frac_3"],
    "bag": ["emoji_4", "phrase_6", "plain_8"], "🧳bag": ["emoji_4", "phrase_6", "plain_8"],
    "flight": ["emoji_4"], "ok": ["emoji_4", "plain_8"],
    "İstanbul": ["dot_5"], "istanbul": ["plain_8"], "ΟΔΟΣ": ["dot_5"], "ﬁne": ["dot_5"],
    '"bag cross"': [], '"my bag"': ["phrase_6"], '"cross name"': ["phrase_6"], "cross": ["phrase_6"],
    LONG[:600]: ["long_7"], '"start жж"*': ["long_7"], "жж*": ["long_7"], '"start ' + LONG[:700] + '"': ["long_7"],
    "cafe\u0301": ["accent_9"], "cafe": [], "orphan": ["accent_9"], "été": ["accent_9"],
}


def _found(engine, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return sorted(m.author_handle or "" for m in inbox_search.search(s, text).items)


def test_every_character_class_finds_the_same_mentions_on_both_databases(any_engine) -> None:
    with Session(any_engine) as s:
        brand = make_brand(s)
        ingest(s, [make_raw(author_handle=h, author_name=n, text=t) for h, n, t in MENTIONS], brand_id=brand.id)
    assert {q: _found(any_engine, q) for q in CASES} == CASES


def _index_words(engine, texts: list[str]) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Each text's words as the database's index holds them, in order (SQLite: a scratch FTS5 table with the
    index's tokenizer; PostgreSQL: the vector function, positions sorted)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(f"CREATE VIRTUAL TABLE probe USING fts5(t, {search_index.tokenize_option()})")
            conn.exec_driver_sql("CREATE VIRTUAL TABLE probe_v USING fts5vocab(probe, instance)")
            conn.execute(sa.text("INSERT INTO probe(rowid, t) VALUES (:i, :t)"),
                         [{"i": i + 1, "t": t} for i, t in enumerate(texts)])
            rows = conn.exec_driver_sql("SELECT doc, term FROM probe_v ORDER BY doc, offset").all()
        else:
            rows = conn.execute(sa.text(
                f"SELECT x.i, w.lexeme FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS x(t, i), "
                f"unnest({search_words.PG_FUNCTION}(x.t, NULL, NULL)) AS w, unnest(w.positions) AS p "
                "ORDER BY x.i, p"), {"texts": texts}).all()
    out: list[list[str]] = [[] for _ in texts]
    for i, term in rows:
        out[int(i) - 1].append(term)
    return out


def test_each_index_holds_the_words_python_makes_for_every_character(any_engine) -> None:
    """Every code point between words, after one and starting one, below U+20000 (CJK ideographs from
    U+3400 sampled: they are all one class) and the tags block: what a differential test of the two
    databases' tokenizers found 4,700 assigned characters disagreeing in before the rule was spelled out."""
    cps = [c for c in range(0x80, 0x20000) if not 0xD800 <= c <= 0xDFFF and (c < 0x3400 or c % 64 == 0)]
    cps += list(range(0xE0000, 0xE0080))
    texts = [f"a{chr(c)}b {chr(c)}x y{chr(c)}" for c in cps]
    got = _index_words(any_engine, texts)
    wrong = {f"U+{c:04X}": (g, search_words.words(t)) for c, t, g in zip(cps, texts, got)
             if g != [w[:search_words.MAX_WORD] for w in search_words.words(t)]}
    assert wrong == {}


@pytest.mark.skipif(unicodedata.unidata_version != "14.0.0", reason="the tables are Unicode 14.0's")
def test_the_frozen_tables_are_unicode_14s_separators() -> None:
    seps = {c for a, b in search_words.SEPARATORS for c in range(a, b + 1)}
    want = {c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
            and (unicodedata.category(chr(c))[0] in "PSZ" or unicodedata.category(chr(c)) in ("Cc", "Cf")
                 or 0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF)}  # and the variation selectors
    assert seps == want
    assert search_words.words("✈️flight 🧳") == ["flight"]  # an emoji's variation selector separates too
    assert "FOLDS" in dir(search_chars) and search_words.fold("ΟΔΟΣ İ Ⅻ ﬁ") == "οδοσ İ ⅻ ﬁ"
