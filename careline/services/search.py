"""Full-text search over mentions: the parsed query (search_query.py) turned into SQL for either database.

Text terms go to the database's own index (careline/search_index.py): FTS5 `MATCH` on SQLite, a
`tsvector @@ tsquery` on PostgreSQL; both are built from the same token lists, so they find the same
mentions. Field filters (`from:`, `platform:`, `tag:`...) become plain column conditions. The inbox query
(services/inbox.py) applies all of it through `conditions()`, so the search box, saved views and
`careline search` (services/inbox_search.py runs a search as an inbox listing) share one definition of
what a query means.
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlmodel import Session, col, select

from careline import search_index, search_words
from careline.models import Brand, Mention
from careline.search_index import COLUMNS, FTS_TABLE, PG_COLUMN
from careline.services import search_density
from careline.services.search_facets import Facets
from careline.services.search_query import FieldFilter, ParsedQuery, Term, fold, tokens
from careline.services.tags import HasTag, normalise

OPEN = search_index.OPEN_STATUSES  # priority.OPEN_STATUSES, as the index spells it


# ---- the text part: one expression, compiled per database -------------------------------------------

TEXT_COLUMNS = "{" + " ".join(COLUMNS) + "}"  # words are looked for in these, never in the facet columns


def fts5_expr(terms: Sequence[Term], handles: Sequence[str] = (), negatives: Sequence[Term] = (),
              facets: Facets | None = None) -> str:
    """An FTS5 query string: every term and platform facet required, no negative term. Tokens are letters
    and digits only, so quoting is safe. (The open/closed and brand facets are appended in SQL, from the
    brand table: see `fts5_match`.)"""
    def phrase(t: Term) -> str:
        return f'{TEXT_COLUMNS} : "{" ".join(t.words)}"' + ("*" if t.prefix else "")

    parts = [phrase(t) for t in terms]
    # a handle as its one `handle` token (careline/search_index.py): the exact handle, not its words
    parts += [f'handle : "{search_index.handle_token(h)}"' for h in handles if h]
    if facets is not None:
        for group in facets.platforms:
            words = [" ".join(tokens(p)) for p in group if tokens(p)]
            parts.append("platform : (" + " OR ".join(f'"{w}"' for w in words) + ")" if words else '"\u0000"')
    expr = "(" + " AND ".join(parts) + ")"
    if negatives:
        expr += " NOT (" + " OR ".join(phrase(t) for t in negatives) + ")"
    return expr


# ' NOT brand_id : ("2" OR "5")' for the competitor brands, or '' (read when the statement runs, so a brand
# marked competitor later needs no re-indexing)
_COMPETITORS = ("coalesce((SELECT ' NOT brand_id : (' || group_concat('\"' || id || '\"', ' OR ') || ')' "
                "FROM brand WHERE competitor IS 1), '')")


def fts5_match(expr_param: str, facets: Facets | None) -> str:
    """The right-hand side of MATCH: the query string, and the facets that name brands, built from the brand
    table when the statement runs (so a brand marked competitor later needs no re-indexing): open/closed
    as the state of every brand, or of our own brands only ('state : ("open1" OR "open")'), or without a
    state the competitor exclusion."""
    if facets is None:
        return expr_param
    if facets.states:
        tokens_sql = search_index.state_tokens_sql(facets.states, facets.own_brands_only)
        return f"('(' || {expr_param} || ') AND state : (' || {tokens_sql} || ')')"
    return f"({expr_param} || {_COMPETITORS})" if facets.own_brands_only else expr_param


def tsquery_expr(terms: Sequence[Term], handles: Sequence[str] = (), negatives: Sequence[Term] = ()) -> str:
    """The same as a PostgreSQL tsquery (phrases with <->, prefixes with :*, exclusions with !)."""
    def one(words: Sequence[str], prefix: bool) -> str:
        lexemes = [f"'{w}'" for w in words]
        if prefix:
            lexemes[-1] += ":*"
        return "(" + " <-> ".join(lexemes) + ")"

    parts = [one(t.words, t.prefix) for t in terms] + [one(tokens(h), False) for h in handles if tokens(h)]
    parts += ["!" + one(t.words, t.prefix) for t in negatives]
    return " & ".join(parts)


class TextMatch(ColumnElement[bool]):
    """Mentions whose indexed text matches all of `terms` (and whose handle holds `handles`' words) and none
    of `negatives`; `negate` turns it into "does not match `terms`". `facets` only narrow (SQLite).
    `probe` (SQLite): test each row the statement reads against the index, instead of listing every match's
    id first: for common words, whose page a walk of the listing's order finds in a few rows
    (services/search_density.py)."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, terms: Sequence[Term], handles: Sequence[str] = (), negate: bool = False,
                 negatives: Sequence[Term] = (), facets: Facets | None = None, probe: bool = False) -> None:
        self.terms, self.handles, self.negate = tuple(terms), tuple(handles), negate
        self.negatives, self.facets, self.probe = tuple(negatives), facets, probe


@compiles(TextMatch, "sqlite")
def _match_sqlite(el: TextMatch, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    facets = None if el.negate else el.facets
    expr = fts5_expr(el.terms, el.handles, el.negatives, facets)
    param = compiler.process(sa.bindparam(None, expr, unique=True), **kw)
    if el.probe and not el.negate:
        return (f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {fts5_match(param, facets)} "
                f"AND {FTS_TABLE}.rowid = mention.id)")
    return (f"mention.id {'NOT ' if el.negate else ''}IN "
            f"(SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {fts5_match(param, facets)})")


@compiles(TextMatch, "postgresql")
def _match_pg(el: TextMatch, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    # The exclusions go into the same tsquery ('flight' & !'delayed'): GIN reads both words' lists and hands
    # the heap only the rows without the excluded word, where `AND NOT (vector @@ 'delayed')` checked every
    # 'flight' row's vector in the heap. At 1,000,000 mentions, open inbox, `flight -delayed platform:x`:
    # count to 1,001 read 4,936 heap pages instead of 5,296, 67 ms warm instead of 240-450 (EXPLAIN ANALYZE).
    # The vector is never NULL (built from coalesced text), so both forms keep the same rows.
    param = compiler.process(sa.bindparam(None, tsquery_expr(el.terms, el.handles, () if el.negate else el.negatives),
                                          unique=True), **kw)
    query = f"CAST({param} AS tsquery)"  # the lexemes as they are: to_tsquery would run the text parser on them
    facets = None if el.negate else el.facets
    if facets is not None and facets.states == ("open",):
        # open mentions only: the open index's expression (its words are the vector's, positions and all, so
        # the same rows match), with the inbox's "our brands" and the platforms asked for as its brand and
        # platform lexemes, so the other mentions are left out in the index rather than after reading their
        # heap pages (careline/search_index.py PG_OPEN_INDEX; the SQL conditions on both still apply)
        if facets.own_brands_only:
            query = f"({query} && {search_index.pg_own_brands_tsquery()})"
        if platforms := search_index.pg_platforms_tsquery(facets.platforms):
            query = f"({query} && CAST({compiler.process(sa.bindparam(None, platforms, unique=True), **kw)} AS tsquery))"
        return f"{search_index.pg_open_vector('mention.')} @@ {query}"
    match = f"mention.{PG_COLUMN} @@ {query}"
    return f"NOT ({match})" if el.negate else match


class Relevance(ColumnElement[float]):
    """How well a mention matches `terms`; higher is better (BM25 on SQLite, ts_rank_cd on PostgreSQL)."""

    type = sa.Float()
    inherit_cache = False

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = tuple(terms)


@compiles(Relevance, "sqlite")
def _rank_sqlite(el: Relevance, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    param = compiler.process(sa.bindparam(None, fts5_expr(el.terms), unique=True), **kw)
    return (f"-(SELECT rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {param} "
            f"AND {FTS_TABLE}.rowid = mention.id)")


@compiles(Relevance, "postgresql")
def _rank_pg(el: Relevance, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    param = compiler.process(sa.bindparam(None, tsquery_expr(el.terms), unique=True), **kw)
    return f"ts_rank_cd(mention.{PG_COLUMN}, CAST({param} AS tsquery))"


# ---- field filters ---------------------------------------------------------------------------------

def _effective(name: str) -> ColumnElement:
    return sa.func.coalesce(getattr(Mention, f"corrected_{name}"), getattr(Mention, name))


def _like_prefix(value: str) -> str:
    return value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class AsciiLower(ColumnElement[str]):
    """`value` with A-Z lower-cased and every other character as it is: SQLite's lower() (without ICU),
    written out for PostgreSQL, whose lower() folds every letter ("JÜRGEN" to "jürgen" there, "jÜrgen" on
    SQLite: `from:` found other handles on one database than on the other)."""

    type = sa.String()
    inherit_cache = False

    def __init__(self, value: Any) -> None:  # a column (sqlmodel's col() is typed as the mapped attribute)
        self.value = value


@compiles(AsciiLower, "sqlite")
def _ascii_lower_sqlite(el: AsciiLower, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    return f"lower({compiler.process(el.value, **kw)})"


@compiles(AsciiLower, "postgresql")
def _ascii_lower_pg(el: AsciiLower, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    return f"translate({compiler.process(el.value, **kw)}, '{string.ascii_uppercase}', '{string.ascii_lowercase}')"


def _field_condition(f: FieldFilter, me: str | None) -> ColumnElement[bool] | None:
    v = f.value
    if f.field == "from":  # the handle in any case of A-Z, the rest exactly (search_index.handle_token)
        return AsciiLower(col(Mention.author_handle)) == search_index.ascii_lower(v)
    if f.field == "platform":
        return col(Mention.platform) == v
    if f.field == "tag":
        return HasTag(normalise([v])[0])
    if f.field == "brand":
        ids = select(Brand.id).where(sa.or_(sa.func.lower(Brand.name) == v.lower(),
                                            sa.func.lower(Brand.name).like(_like_prefix(v), escape="\\")))
        return col(Mention.brand_id).in_(ids)
    if f.field == "status":
        if v == "all":
            return None
        return col(Mention.status).in_(OPEN) if v == "open" else col(Mention.status) == v
    if f.field in ("intent", "sentiment"):
        return _effective(f.field) == v
    if f.field == "lang":
        return col(Mention.language) == v
    if f.field == "assignee":
        if v in ("none", "nobody", "unassigned"):
            return col(Mention.assignee).is_(None)
        return col(Mention.assignee) == (me if v == "me" and me else v)
    raise AssertionError(f"unhandled field {f.field}")  # the parser only lets FIELDS through


def conditions(q: ParsedQuery, me: str | None = None, facets: Facets | None = None,
               probe: bool = False) -> list[ColumnElement[bool]]:
    """Everything the query asks for, as SQL conditions to AND together (`facets`: what else the inbox
    filters on, for the SQLite index to narrow by; the inbox's own conditions still apply; `probe`: see
    TextMatch)."""
    out: list[ColumnElement[bool]] = []
    handles = q.values("from")
    if q.positive or handles:
        # the handle's words narrow through the index; the exact (case-insensitive) handle check follows.
        # Exclusions go into the same match (one index read, not one per word).
        out.append(TextMatch(q.positive, handles, negatives=q.negative, facets=facets, probe=probe))
    else:
        for term in q.negative:
            out.append(TextMatch([term], negate=True))
    for f in q.filters:
        cond = _field_condition(f, me)
        if cond is None:
            continue
        # "-lang:en" keeps the mentions with no language too: NULL counts as "not this"
        out.append(sa.not_(sa.func.coalesce(cond, sa.false())) if f.negated else cond)
    return out


def overrides_status(q: ParsedQuery) -> bool:
    """A `status:` in the query replaces the status picked beside the search box."""
    return any(f.field == "status" for f in q.filters)


def names_brand(q: ParsedQuery) -> bool:
    """A `brand:` in the query may name a competitor, which the inbox otherwise leaves out."""
    return any(f.field == "brand" and not f.negated for f in q.filters)


def text_only(q: ParsedQuery) -> bool:
    """Whether the query is nothing but required words (so the index alone can count it)."""
    return bool(q.positive) and not q.negative and not q.filters


def text_count(session: Session, q: ParsedQuery, cap: int | None = None, facets: Facets | None = None) -> int | None:
    """How many mentions the query's words match (up to `cap`) from the index alone (None: no such words).
    With `facets` (SQLite, only when `facets.exact`) the inbox's filters and `from:` handles are counted in
    the index too.

    Measured at 1,000,000 mentions: "refund" (56,629 matches) counts in ~6 ms from FTS5; the same count
    joined back to the mention table took ~630 ms (a probe per row of a million-entry index). PostgreSQL
    visits the heap page of every match (its bitmap scan cannot count from GIN alone): 42,000 pages, 490 ms
    warm and 6.6 s cold for the exact count, ~20 ms to count up to 1,001."""
    handles = q.values("from") if facets is not None else []
    if not q.positive and not handles:
        return None
    if session.get_bind().dialect.name == "sqlite":
        inner, params = _fts_matches(q, handles, facets)
    else:
        if q.negative or facets is not None or not q.positive:
            return None
        inner = f"SELECT 1 FROM mention WHERE {PG_COLUMN} @@ CAST(:q AS tsquery)"
        params = {"q": tsquery_expr(q.positive)}
    if cap is not None:
        inner += " LIMIT :cap"
        params["cap"] = cap
    return int(session.execute(sa.text(f"SELECT count(*) FROM ({inner}) AS hits"), params).scalar_one())


def _fts_matches(q: ParsedQuery, handles: Sequence[str], facets: Facets | None) -> tuple[str, dict[str, object]]:
    """SQLite: the statement listing the ids the words, handles and facets match, in id order."""
    return (f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {fts5_match(':q', facets)}",
            {"q": fts5_expr(q.positive, handles, q.negative, facets)})


def text_count_spread(session: Session, q: ParsedQuery, cap: int, facets: Facets) -> tuple[int, float | None, int]:
    """SQLite, `text_count` with `facets`, and from the same read: the share of mentions that match (from the
    id span of the matches counted, search_density.from_span) and how many ids the mentions span."""
    inner, params = _fts_matches(q, q.values("from"), facets)
    n, first, last, rows = session.execute(sa.text(
        f"SELECT count(*), min(rowid), max(rowid), (SELECT max(id) FROM mention) - (SELECT min(id) FROM mention) + 1 "
        f"FROM ({inner} LIMIT :cap) AS hits"), {**params, "cap": cap}).one()
    n, rows, density = int(n), int(rows or 0), search_density.from_span(int(n), first, last)
    if n < cap or not facets.states or density is None:
        return n, density, rows
    # open or closed only: the share among the mentions in that state (and platforms) in the same id span,
    # counted only as far as could still make the words common
    span = last - first + 1
    bound = search_density.scope_bound(n, span, rows)
    scope, scope_params = _scope_matches(facets)
    in_scope = int(session.execute(sa.text(
        f"SELECT count(*) FROM ({scope} AND rowid BETWEEN :first AND :last LIMIT :bound) AS hits"),
        {**scope_params, "first": first, "last": last, "bound": bound}).scalar_one())
    density, scope_rows = search_density.within_scope(n, in_scope, span, rows)
    return n, density, int(scope_rows)


def _scope_matches(facets: Facets) -> tuple[str, dict[str, object]]:
    """SQLite: the statement listing the ids the state and platform facets alone match (no words)."""
    states = f"'state : (' || {search_index.state_tokens_sql(facets.states, facets.own_brands_only)} || ')'"
    if not facets.platforms:
        return f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {states}", {}
    return (f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ({states} || ' AND ' || :platforms)",
            {"platforms": fts5_expr([], (), (), Facets(platforms=facets.platforms))})


def text_ids(session: Session, q: ParsedQuery, limit: int, facets: Facets | None = None) -> list[int] | None:
    """The ids the query's words (and from: handles) match on SQLite, narrowed by `facets`, or None when
    over `limit`."""
    handles = q.values("from")
    if not q.positive and not handles:
        return None
    sql, params = _fts_matches(q, handles, facets)
    ids = [int(r) for r in session.execute(sa.text(f"{sql} LIMIT :n"), {**params, "n": limit + 1}).scalars()]
    return ids if len(ids) <= limit else None


def relevance(q: ParsedQuery) -> ColumnElement[float] | None:
    return Relevance(q.positive) if q.positive else None


# ---- highlighting (plain text: the caller shows it as text, never as HTML or Markdown) ---------------

MARK_OPEN, MARK_CLOSE = "«", "»"


def hit_spans(text: str, q: ParsedQuery) -> list[tuple[int, int]]:
    """(start, end) character spans of `text` that the query's positive terms matched, in order."""
    words = [(m.start(), m.end(), fold(m.group())) for m in search_words.WORD.finditer(text)]
    spans: list[tuple[int, int]] = []
    for term in q.positive:
        n = len(term.words)
        for i in range(len(words) - n + 1):
            window = words[i:i + n]
            if all(w[2] == t for w, t in zip(window[:-1], term.words[:-1])) and (
                    window[-1][2].startswith(term.words[-1]) if term.prefix else window[-1][2] == term.words[-1]):
                spans.append((window[0][0], window[-1][1]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, q: ParsedQuery, width: int = 160) -> str:
    """One line of `text` around the first hit, hits wrapped in « », at most about `width` characters."""
    flat = " ".join(text.split())
    spans = hit_spans(flat, q)
    start = 0
    if spans and spans[0][0] > width // 3:
        start = flat.rfind(" ", 0, spans[0][0] - width // 4) + 1
    end = min(len(flat), start + width)
    out, pos = [], start
    for s0, s1 in spans:
        if s1 <= start or s0 >= end:
            continue
        out += [flat[pos:max(pos, s0)], MARK_OPEN, flat[max(pos, s0):min(s1, end)], MARK_CLOSE]
        pos = min(s1, end)
    out.append(flat[pos:end])
    return ("…" if start else "") + "".join(out) + ("…" if end < len(flat) else "")
