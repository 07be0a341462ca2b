"""Link suggestions: identities on different platforms that look like one person, for a person to confirm.

Signals, strongest first: two profiles that link to each other (Mastodon rel="me" fields, X profile
url, a Bluesky domain handle), one profile linking to the other, the same display name with a link in
common, a website both profiles list, and the same handle on two platforms. A link or handle many people
share (more than `HUB_SIZE` identities) says nothing and is ignored. Nothing is merged here unless an admin
has switched on an auto-merge rule for that signal (`set_auto_rules`).

The job keys identities in Python (normalising is easier to get right there than in two SQL dialects) and
matches in SQL. After the first full pass it only looks at identities touched since the last run.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.db import dialect_insert
from careline.errors import InvalidInput
from careline.models import Author, CustomerIdentity, IdentityLink, LinkSuggestion, utcnow
from careline.services import app_settings, audit
from careline.services.customer_counts import _t, key_filter
from careline.services.customer_keys import handle_key, name_key, url_key
from collectors.base import RawMention

log = logging.getLogger(__name__)

HUB_SIZE = 5
HWM_KEY = "customer_links_hwm"
AUTO_RULES_KEY = "customer_auto_merge_rules"
SCORES = {"mutual_link": 1.0, "verified_link": 0.95, "links_to": 0.9, "same_name_and_link": 0.8,
          "same_handle_and_name": 0.75, "shared_website": 0.5, "same_handle": 0.45}
REASON_TEXT = {
    "mutual_link": "their profiles link to each other",
    "verified_link": "one profile has a verified link to the other",
    "links_to": "one profile links to the other",
    "same_name_and_link": "same display name and a link in common",
    "same_handle_and_name": "same handle and display name on two platforms",
    "shared_website": "both profiles list the same website",
    "same_handle": "same handle on two platforms",
}
_BATCH = 5000


def profile_url(platform: str, handle: str, given: str | None = None) -> str | None:
    """The public profile page of an identity: what the platform sent, else the platform's usual address."""
    if given:
        return given
    h = handle.lstrip("@")
    if platform == "x":
        return f"https://x.com/{h}"
    if platform == "reddit":
        return f"https://www.reddit.com/user/{h}"
    if platform == "bluesky":
        return f"https://bsky.app/profile/{h}"
    if platform == "mastodon" and "@" in h:
        user, instance = h.split("@", 1)
        return f"https://{instance}/@{user}"
    if platform == "hackernews":
        return f"https://news.ycombinator.com/user?id={h}"
    return None


def _derived_links(platform: str, handle: str) -> list[tuple[str, bool]]:
    """A Bluesky handle that is a domain of its own was verified by that domain: it is a link to it."""
    h = handle.lower().lstrip("@")
    if platform == "bluesky" and "." in h and not h.endswith(".bsky.social"):
        return [(f"https://{h}", True)]
    return []


# -- links from collected profiles (ingest calls this) --------------------------------------------------

def store_profiles(session: Session, profiles: Mapping[tuple[str, str], RawMention], keys: Iterable[tuple[str, str]]) -> None:
    """Keep the profile URL and links that came with newly stored posts; a change re-queues the identity."""
    wanted = [k for k in set(keys) if k in profiles]
    if not wanted:
        return
    ci, il = _t(CustomerIdentity), _t(IdentityLink)
    rows = [r for r in session.connection().execute(sa.select(ci.c.id, ci.c.platform, ci.c.handle, ci.c.profile_url).where(
        key_filter(ci.c.platform, ci.c.handle, wanted, session))) if (r[1], r[2]) in profiles]
    have: dict[int, set[str]] = {}
    for iid, key in session.connection().execute(
            sa.select(il.c.identity_id, il.c.url_key).where(il.c.identity_id.in_([r[0] for r in rows]))):
        have.setdefault(iid, set()).add(key)
    new_links: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    for iid, platform, handle, old_url in rows:
        raw = profiles[(platform, handle)]
        verified = set(raw.author_verified_links)
        fresh = False
        for url in dict.fromkeys([*raw.author_verified_links, *raw.author_links]):
            k = url_key(url)
            if k and k not in have.get(iid, set()):
                have.setdefault(iid, set()).add(k)
                new_links.append({"identity_id": iid, "url_key": k, "url": url[:2000], "verified": url in verified})
                fresh = True
        new_url = raw.author_url or old_url
        if fresh or new_url != old_url:
            touched.append({"iid": iid, "url": new_url})
    if new_links:
        session.connection().execute(dialect_insert(session, IdentityLink).on_conflict_do_nothing(), new_links)
    if touched:
        session.connection().execute(
            sa.update(ci).where(ci.c.id == sa.bindparam("iid"))
            .values(profile_url=sa.bindparam("url"), keyed_at=None, touched_at=utcnow()), touched)


# -- the job ---------------------------------------------------------------------------------------------

@dataclass
class SuggestResult:
    keyed: int = 0
    candidates: int = 0
    new: int = 0
    updated: int = 0
    auto_merged: int = 0
    full: bool = False
    by_reason: dict[str, int] = field(default_factory=dict)


def _key_identities(session: Session, progress: Callable[[int, int], None] | None) -> int:
    ci, a = _t(CustomerIdentity), _t(Author)
    total = session.connection().execute(sa.select(sa.func.count()).select_from(ci).where(ci.c.keyed_at.is_(None))).scalar_one()
    done, now, last = 0, utcnow(), 0
    while True:
        rows = session.connection().execute(
            sa.select(ci.c.id, ci.c.platform, ci.c.handle, ci.c.profile_url, a.c.display_name)
            .select_from(ci.join(a, a.c.id == ci.c.author_id))
            .where(ci.c.keyed_at.is_(None), ci.c.id > last).order_by(ci.c.id).limit(_BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        updates, links = [], []
        for iid, platform, handle, purl, name in rows:
            url = profile_url(platform, handle, purl)
            updates.append({"iid": iid, "hk": handle_key(platform, handle), "nk": name_key(name), "pk": url_key(url),
                            "now": now})
            links += [{"identity_id": iid, "url_key": url_key(u), "url": u, "verified": v}
                      for u, v in _derived_links(platform, handle)]
        session.connection().execute(
            sa.update(ci).where(ci.c.id == sa.bindparam("iid")).values(
                handle_key=sa.bindparam("hk"), name_key=sa.bindparam("nk"), profile_key=sa.bindparam("pk"),
                keyed_at=sa.bindparam("now")), updates)
        if links:
            session.connection().execute(dialect_insert(session, IdentityLink).on_conflict_do_nothing(), links)
        done += len(rows)
        if progress:
            progress(done, total)
    return done


Pair = tuple[int, int]


def _add(found: dict[Pair, dict[str, Any]], x: int, y: int, reason: str, evidence: str) -> None:
    if x == y:
        return
    pair = (min(x, y), max(x, y))
    entry = found.setdefault(pair, {"reasons": set(), "evidence": {}})
    entry["reasons"].add(reason)
    entry["evidence"].setdefault(reason, evidence)


def _candidates(session: Session, since: datetime | None) -> dict[Pair, dict[str, Any]]:
    ci, il = _t(CustomerIdentity), _t(IdentityLink)
    conn = session.connection()
    found: dict[Pair, dict[str, Any]] = {}
    touched = sa.select(ci.c.id).where(ci.c.touched_at > since) if since else None

    # same handle on several platforms (groups of at most HUB_SIZE)
    groups = sa.select(ci.c.handle_key).where(ci.c.handle_key.is_not(None), sa.func.length(ci.c.handle_key) >= 3)
    if since:
        groups = groups.where(ci.c.handle_key.in_(sa.select(ci.c.handle_key).where(ci.c.touched_at > since)))
    groups = groups.group_by(ci.c.handle_key).having(
        sa.func.count(sa.distinct(ci.c.platform)) > 1, sa.func.count() <= HUB_SIZE)
    members: dict[str, list[tuple[int, str, int, str | None]]] = {}
    for iid, hk, platform, cust, nk in conn.execute(
            sa.select(ci.c.id, ci.c.handle_key, ci.c.platform, ci.c.customer_id, ci.c.name_key)
            .where(ci.c.handle_key.in_(groups))):
        members.setdefault(hk, []).append((iid, platform, cust, nk))
    for hk, group in members.items():
        for i, (x, px, cx, nx) in enumerate(group):
            for y, py, cy, ny in group[i + 1:]:
                if px != py and cx != cy:
                    _add(found, x, y, "same_handle_and_name" if nx and nx == ny else "same_handle", hk)

    # one profile links to the other's profile page
    target = ci.alias("target")
    links = (sa.select(il.c.identity_id, target.c.id, il.c.verified, il.c.url_key)
             .select_from(il.join(target, target.c.profile_key == il.c.url_key))
             .where(il.c.identity_id != target.c.id))
    if touched is not None:
        links = links.where(sa.or_(il.c.identity_id.in_(touched), target.c.id.in_(touched)))
    directed = {(s, t): (bool(v), k) for s, t, v, k in conn.execute(links)}
    for (s, t), (verified, key) in directed.items():
        if (t, s) in directed:
            _add(found, s, t, "mutual_link", key)
        else:
            _add(found, s, t, "verified_link" if verified else "links_to", key)

    # a link in common (not a hub), with or without the same display name
    shared = sa.select(il.c.url_key).group_by(il.c.url_key).having(sa.func.count() > 1, sa.func.count() <= HUB_SIZE)
    if touched is not None:
        shared = shared.where(il.c.url_key.in_(sa.select(il.c.url_key).where(il.c.identity_id.in_(touched))))
    by_key: dict[str, list[tuple[int, int, str | None]]] = {}
    for key, iid, cust, nk in conn.execute(
            sa.select(il.c.url_key, il.c.identity_id, ci.c.customer_id, ci.c.name_key)
            .select_from(il.join(ci, ci.c.id == il.c.identity_id)).where(il.c.url_key.in_(shared))):
        by_key.setdefault(key, []).append((iid, cust, nk))
    for key, sharing in by_key.items():
        for i, (x, cx, nx) in enumerate(sharing):
            for y, cy, ny in sharing[i + 1:]:
                if cx != cy:
                    _add(found, x, y, "same_name_and_link" if nx and nx == ny else "shared_website", key)

    # drop pairs already in one customer
    if found:
        ids = sorted({i for pair in found for i in pair})
        owner: dict[int, int] = {}
        for start in range(0, len(ids), 900):
            owner.update(conn.execute(sa.select(ci.c.id, ci.c.customer_id).where(ci.c.id.in_(ids[start:start + 900]))).all())
        found = {p: v for p, v in found.items() if owner.get(p[0]) != owner.get(p[1])}
    return found


def suggest(session: Session, *, full: bool = False, progress: Callable[[int, int], None] | None = None,
            actor: str = "system") -> SuggestResult:
    """Key new identities, find candidate pairs, store them as open suggestions; apply auto-merge rules."""
    started = utcnow()
    hwm = None if full else app_settings.get(session, HWM_KEY)
    since = datetime.fromisoformat(hwm) if hwm else None
    result = SuggestResult(full=since is None)
    result.keyed = _key_identities(session, progress)
    found = _candidates(session, since)
    result.candidates = len(found)
    ls = _t(LinkSuggestion)
    existing: dict[Pair, tuple[int, str, list[str]]] = {}
    pairs = list(found)
    for start in range(0, len(pairs), 400):
        for sid, a, b, state, reasons in session.connection().execute(
                sa.select(ls.c.id, ls.c.identity_a, ls.c.identity_b, ls.c.state, ls.c.reasons)
                .where(key_filter(ls.c.identity_a, ls.c.identity_b, pairs[start:start + 400]))):
            if (a, b) in found:
                existing[(a, b)] = (sid, state, list(reasons or []))
    inserts, updates = [], []
    for pair, entry in found.items():
        reasons = sorted(entry["reasons"], key=lambda r: -SCORES[r])
        for r in reasons:
            result.by_reason[r] = result.by_reason.get(r, 0) + 1
        score = max(SCORES[r] for r in reasons)
        if pair in existing:
            sid, state, old = existing[pair]
            if state == "open" and set(old) != set(reasons):  # dismissed stays dismissed
                updates.append({"sid": sid, "reasons": reasons, "score": score, "evidence": entry["evidence"]})
            continue
        inserts.append({"identity_a": pair[0], "identity_b": pair[1], "reasons": reasons, "score": score,
                        "evidence": entry["evidence"], "state": "open", "created_at": started})
    if inserts:
        session.connection().execute(dialect_insert(session, LinkSuggestion).on_conflict_do_nothing(), inserts)
    if updates:
        session.connection().execute(sa.update(ls).where(ls.c.id == sa.bindparam("sid")).values(
            reasons=sa.bindparam("reasons"), score=sa.bindparam("score"), evidence=sa.bindparam("evidence")), updates)
    result.new, result.updated = len(inserts), len(updates)
    app_settings.put(session, HWM_KEY, started.isoformat(), commit=False)
    session.commit()
    result.auto_merged = _auto_merge(session, actor)
    log.info("link suggestions: %d identities keyed, %d candidate pairs, %d new, %d updated, %d auto-merged (%s)",
             result.keyed, result.candidates, result.new, result.updated, result.auto_merged,
             "full pass" if result.full else f"since {since}")
    return result


# -- auto-merge rules (off unless an admin turns one on) -------------------------------------------------

def auto_rules(session: Session) -> list[str]:
    return [r for r in app_settings.get(session, AUTO_RULES_KEY, []) or [] if r in SCORES]


def set_auto_rules(session: Session, rules: Iterable[str], actor: str, role: str) -> list[str]:
    from careline.services import users

    users.require(role, "settings")
    rules = sorted(set(rules))
    unknown = [r for r in rules if r not in SCORES]
    if unknown:
        raise InvalidInput(f"Unknown rule {unknown[0]!r}; use one of {', '.join(SCORES)}.")
    before = auto_rules(session)
    app_settings.put(session, AUTO_RULES_KEY, rules, actor="system", commit=False)
    audit.record(session, actor, "customer_auto_rules", before=before, after=rules)
    session.commit()
    return rules


def _auto_merge(session: Session, actor: str) -> int:
    rules = set(auto_rules(session))
    if not rules:
        return 0
    from careline.services import customers

    merged = 0
    for s in session.exec(select(LinkSuggestion).where(LinkSuggestion.state == "open")).all():
        hit = rules.intersection(s.reasons or [])
        if hit:
            customers.accept_suggestion(session, s.id or 0, f"auto-rule:{sorted(hit)[0]}", "admin", auto=True)
            merged += 1
    return merged


def open_suggestions(session: Session, limit: int = 100, customer_id: int | None = None) -> list[LinkSuggestion]:
    stmt = select(LinkSuggestion).where(LinkSuggestion.state == "open")
    if customer_id is not None:
        mine = select(CustomerIdentity.id).where(CustomerIdentity.customer_id == customer_id)
        stmt = stmt.where(sa.or_(col(LinkSuggestion.identity_a).in_(mine), col(LinkSuggestion.identity_b).in_(mine)))
    return list(session.exec(stmt.order_by(col(LinkSuggestion.score).desc(), col(LinkSuggestion.id)).limit(limit)))


def describe(reasons: Iterable[str]) -> str:
    return "; ".join(REASON_TEXT.get(r, r) for r in reasons)
