"""Which brands a mention belongs to: every brand it names, with one primary brand for the inbox.

`Mention.brand_id` is the primary brand. An own brand always wins over a competitor, so our customer's
complaint reaches the inbox even when it also names a competitor whose query caught the post first. Every
other brand the post names is a row in `mention_brand`, so the post also counts for those brands.

The counting rule (Trends volume and share of voice, the weekly report's per-brand tables and trend, the
inbox's brand filter): a per-brand figure counts every brand a post names, and a brand filter matches a
post that names the brand (`per_brand_selects`, `per_brand_days`, `brand_clause`); a total over all
brands counts each post once, by its primary brand alone, never as the sum of the per-brand rows.

Why a primary column plus a link table of the *other* brands, not a link row for every mention: the
inbox at a million mentions filters and sorts on the mention's own composite indexes (brand_id, status,
priority); joining a link table on every inbox page would cost each page, while most posts name one
brand, so the link table stays small (and existing databases need no backfill). Only a brand filter or a
per-brand count consults it, through an indexed (brand_id, mention_id) semi-join.

Matching is collectors/matcher.py's (the one matcher shared with the streams): the brands whose keywords
or handles the text names, after each brand's exclusions, plus the brand whose query caught the post
(the platform's search may match forms the local matcher does not, such as a hashtag).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, MentionBrand
from careline.services import localdays
from collectors.matcher import Matcher, Rule

log = logging.getLogger(__name__)
_CACHE: dict[tuple[Any, ...], Attribution] = {}


@dataclass
class Attribution:
    """The brands, compiled for matching (built once per set of brand rules, see `attribution`)."""

    ids: dict[str, int]
    competitors: frozenset[int]
    matcher: Matcher

    def brands_for(self, text: str | None, author: str | None, caught_by: int | None) -> list[int]:
        """Every brand the post belongs to, the primary first (own brands before competitors; among them
        the brand whose query caught the post first). Sorted only when there is something to move, by the
        set's own C method rather than a lambda: 5.4 -> 2.3 µs a benchmark post, matching included (timeit, 1,000 posts, one
        brand, load ~1.5)."""
        ids = self.ids
        found = [ids[name] for name in self.matcher.match(text or "", author) if name in ids]
        if caught_by is not None:
            if caught_by in found:
                found.remove(caught_by)
            found.insert(0, caught_by)
        if len(found) > 1 and self.competitors:  # one brand, or none a competitor: already in order
            found.sort(key=self.competitors.__contains__)  # stable: keeps the order within each group
        return found


def attribution(session: Session) -> Attribution:
    brands = list(session.exec(select(Brand).order_by(col(Brand.id))))
    fingerprint = tuple((b.id, b.name, b.competitor, tuple(b.keywords or ()), tuple(b.handles or ()),
                         tuple(b.exclusions or ())) for b in brands)
    found = _CACHE.get(fingerprint)
    if found is None:
        rules = [Rule(brand=b.name, terms=tuple(k for k in b.keywords or () if k.strip()) or (b.name,),
                      handles=tuple(b.handles or ()), exclusions=tuple(b.exclusions or ())) for b in brands]
        found = Attribution(ids={b.name: b.id for b in brands if b.id is not None},
                            competitors=frozenset(b.id for b in brands if b.competitor and b.id is not None),
                            matcher=Matcher(rules))
        _CACHE.clear()  # brands changed: the old automaton is of no use
        _CACHE[fingerprint] = found
    return found


def record(session: Session, attr: Attribution, brands: dict[tuple[str, str], list[int]],
           inserted: Iterable[tuple[int, str, str]],
           stored: Mapping[tuple[str, str], tuple[int, int | None]] | None = None) -> None:
    """Store the other brands of new mentions, and attribute already stored ones to the brands this batch
    found them for (a second brand's query catching the same post), with the own-brand-first rule.
    `stored`: (id, primary brand) of the batch's already stored posts, when the caller has read them
    (ingest does; reading them again here was a fifth of a re-ingest)."""
    links: list[dict[str, int]] = []
    new_keys: set[tuple[str, str]] = set()
    for mention_id, platform, external_id in inserted:
        new_keys.add((platform, external_id))
        links += [{"mention_id": mention_id, "brand_id": b} for b in brands.get((platform, external_id), [])[1:]]
    seen = [k for k, ids in brands.items() if k not in new_keys and ids]
    for start in range(0, len(seen), 500):
        chunk = seen[start:start + 500]
        if stored is not None:
            found: Iterable[tuple[int, str, str, int | None]] = [(*stored[k][:1], *k, stored[k][1]) for k in chunk
                                                                  if k in stored]
        else:
            cond = sa.tuple_(col(Mention.platform), col(Mention.external_id)).in_(chunk)
            found = session.execute(select(Mention.id, Mention.platform, Mention.external_id, Mention.brand_id)
                                    .where(cond)).tuples()
        for mid, platform, external_id, primary in found:
            wanted = brands[(platform, external_id)]
            best, before = wanted[0], primary
            if primary is None or (primary in attr.competitors and best not in attr.competitors):
                session.execute(sa.update(Mention).where(col(Mention.id) == mid).values(brand_id=best)
                                .execution_options(synchronize_session=False))
                session.execute(sa.delete(MentionBrand).where(col(MentionBrand.mention_id) == mid,
                                                              col(MentionBrand.brand_id) == best))
                log.info("mention %s now belongs to own brand %s first (was %s)", mid, best, primary)
                primary = best
            links += [{"mention_id": mid, "brand_id": b}
                      for b in {*wanted, *([] if before is None else [before])} if b != primary]
    unique = [{"mention_id": m, "brand_id": b} for m, b in sorted({(x["mention_id"], x["brand_id"]) for x in links})]
    if unique:
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)
        session.connection().execute(insert(MentionBrand).on_conflict_do_nothing(), unique)


def competitor_ids(session: Session) -> list[int]:
    """The brands tracked for share of voice, not answered (own_brand_clause's list, as values)."""
    return [i for i in session.exec(select(Brand.id).where(col(Brand.competitor).is_(True))) if i is not None]


def own_brand_clause(brand: Any = None) -> sa.ColumnElement[bool]:
    """Mentions whose primary brand is ours (or none): what the inbox and its counts are about.

    Competitors are tracked for share of voice, not answered; a post naming us and a competitor has us
    as its primary brand, so this never hides our own customers. `brand`: another brand column to test
    the same way (the other brand of a `per_brand_selects` row); the primary brand by default."""
    brand = col(Mention.brand_id) if brand is None else brand
    competitors = select(Brand.id).where(col(Brand.competitor).is_(True))
    return sa.or_(brand.is_(None), brand.not_in(competitors))


# builds one GROUP BY select over `mention` from the brand column to select and group by
BrandQuery = Callable[[Any], sa.Select[Any]]
# the same, from (the local-day column, the brand column); the caller selects the day first
DayBrandQuery = Callable[[sa.ColumnElement[Any], Any], sa.Select[Any]]


def per_brand_selects(build: BrandQuery, brand_ids: Sequence[int] | None = None, *,
                      own_only: bool = False) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The per-brand rule as two selects: (primary, also).

    `primary` counts each post once, for its primary brand (a total over all brands sums these rows
    alone); `also` counts it once more for every other brand it names, joined through `mention_brand`.
    Per-brand figures add both. Why two queries, not one join: most posts name one brand, so the link
    table is small and the common path stays on the mention's own time-range index (no per-row join).
    `brand_ids`: only these brands' rows (a post still counts for a chosen brand it only names).
    `own_only`: no row for a competitor a post names (what we answer: response times, care metrics); the
    caller's `build` keeps to our own posts (own_brand_clause), which covers the primary brand."""
    primary = build(col(Mention.brand_id))
    other = col(MentionBrand.brand_id)
    also = build(other).join(MentionBrand, col(MentionBrand.mention_id) == col(Mention.id))
    if own_only:
        also = also.where(own_brand_clause(other))
    if brand_ids:
        primary = primary.where(col(Mention.brand_id).in_(list(brand_ids)))
        also = also.where(other.in_(list(brand_ids)))
    return primary, also


def per_brand_days(session: Session, since: datetime, until: datetime, zone: ZoneInfo | str, build: DayBrandQuery,
                   brand_ids: Sequence[int] | None = None) -> Iterator[tuple[date, sa.Row[Any], bool]]:
    """(local day, row, also) for `per_brand_selects` over [since, until), days cut by localdays in `zone`.

    `also` is False for the primary rows (each post once) and True for the other brands' rows; the
    created_at window of each DST segment is applied here, so `build` adds only its own filters."""
    created = col(Mention.created_at)

    def window(index: int) -> localdays.SegmentQueries:
        def segment(day: sa.ColumnElement[Any], start: datetime, end: datetime) -> list[sa.Select[Any]]:
            stmt = per_brand_selects(lambda brand: build(day, brand), brand_ids)[index]
            return [stmt.where(created >= start, created < end)]
        return segment

    for index in (0, 1):
        for day, row in localdays.per_day(session, created, since, until, zone, window(index)):
            yield day, row, bool(index)


def brand_clause(brand_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """Mentions that belong to any of these brands, as primary or as another brand they name."""
    linked = select(MentionBrand.mention_id).where(col(MentionBrand.brand_id).in_(list(brand_ids)))
    return sa.or_(col(Mention.brand_id).in_(list(brand_ids)), col(Mention.id).in_(linked))


def brands_of(session: Session, mention: Mention) -> list[int]:
    """A mention's brands, primary first."""
    others = session.exec(select(MentionBrand.brand_id).where(MentionBrand.mention_id == mention.id)
                          .order_by(col(MentionBrand.brand_id))).all()
    return ([mention.brand_id] if mention.brand_id is not None else []) + [b for b in others if b != mention.brand_id]
