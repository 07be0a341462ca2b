"""Tags: the one normalisation rule, the tag filter both databases understand, listing and renaming.

Tags live on the mention as a JSON list (set by people in the detail view, by routing rules, by scripts).
A filter on a tag is `HasTag`, compiled per database (SQLite `json_each`, PostgreSQL `jsonb @>`).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlmodel import Session, col, select

from careline.errors import InvalidInput
from careline.models import Mention, utcnow
from careline.services import audit

MAX_TAG_CHARS = 50


def normalise(tags: Iterable[str]) -> list[str]:
    """Trimmed, lower case, at most 50 characters, no duplicates, sorted: how every tag is stored."""
    return sorted({t.strip().lower()[:MAX_TAG_CHARS] for t in tags if t and t.strip()})


class HasTag(ColumnElement[bool]):
    """True where the mention's tags include `tag` (already normalised)."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, tag: str) -> None:
        self.tag = tag


@compiles(HasTag, "sqlite")
def _has_tag_sqlite(el: HasTag, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    param = compiler.process(sa.bindparam(None, el.tag, unique=True), **kw)
    return f"EXISTS (SELECT 1 FROM json_each(mention.tags) WHERE json_each.value = {param})"


@compiles(HasTag, "postgresql")
def _has_tag_pg(el: HasTag, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    param = compiler.process(sa.bindparam(None, json.dumps([el.tag]), unique=True), **kw)
    return f"(CAST(mention.tags AS JSONB) @> CAST({param} AS JSONB))"


def any_tag(tags: Sequence[str]) -> ColumnElement[bool]:
    """Mentions with at least one of these tags."""
    return sa.or_(*(HasTag(t) for t in normalise(tags)))


def tag_counts(session: Session, limit: int = 500) -> list[tuple[str, int]]:
    """Every tag in use with how many mentions carry it, most used first, then by name.

    One pass over the mentions that have tags at all (an empty list is the common case and skipped). Ties
    go by name, not by `most_common`'s first-seen order: that is the order the database happened to scan
    the rows in (PostgreSQL moves an updated row in its heap), so the list, and which tags the `limit`
    kept, could differ between databases and from one day to the next."""
    stmt = select(Mention.tags).where(sa.cast(Mention.tags, sa.String) != "[]")
    counts: Counter[str] = Counter()
    for tags in session.exec(stmt):
        counts.update(tags or [])
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def list_tags(session: Session) -> list[str]:
    return sorted(t for t, _ in tag_counts(session))


def rename(session: Session, old: str, new: str, actor: str) -> int:
    """Rename (or merge, when `new` exists) a tag on every mention; one audit event per mention changed."""
    old_n, new_l = normalise([old]), normalise([new])
    if not old_n or not new_l:
        raise InvalidInput("Give both the tag to rename and its new name.")
    src, dst = old_n[0], new_l[0]
    if src == dst:
        raise InvalidInput(f"The tag is already called {dst!r}.")
    rows = list(session.exec(select(Mention).where(HasTag(src))))
    if not rows:
        raise InvalidInput(f"No mention has the tag {src!r}.")
    now = utcnow()
    for m in rows:
        before = list(m.tags or [])
        m.tags, m.updated_at = normalise([dst if t == src else t for t in before]), now
        session.add(m)
        audit.record(session, actor, "tags", mention_id=m.id, before=before, after=m.tags, rename=[src, dst])
    audit.record(session, actor, "tag_rename", old=src, new=dst, mentions=len(rows))
    session.commit()
    return len(rows)


def mentions_with(session: Session, tag: str, limit: int = 100) -> list[Mention]:
    stmt = select(Mention).where(HasTag(normalise([tag])[0])).order_by(col(Mention.id).desc()).limit(limit)
    return list(session.exec(stmt))
