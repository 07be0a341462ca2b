"""The right of access and erasure: export everything about a customer; erase it so it stays erased.

Erasure anonymises rather than deletes the customer's mentions: the rows stay (text, author, link and
payload blanked) so trends and the customer's aggregate counts don't change, while nothing in them says who
wrote them. Identities lose their handle and links, notes are deleted, and one audit entry records the
erasure by customer id and counts only.

An erased identity stays erased: a tombstone holds the platform and a hash of the handle (and of the
platform's account id). Ingest checks it and **skips** posts by that person, logging and counting each
skip on the tombstone (shown by `careline customer erased`), instead of collecting them into a new
profile. Skipping was chosen over collecting-and-anonymising because an anonymised post still carries
their words; the count is the notice that they are still writing about the brand.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import ErasureTombstone, utcnow
from collectors.base import RawMention

log = logging.getLogger(__name__)
_SALT = "careline-erasure-v1:"


def id_hash(platform: str, value: str) -> str:
    """A stable hash of a handle or account id (case-insensitive), so the tombstone holds no identifier."""
    return hashlib.sha256(f"{_SALT}{platform}:{value.strip().lstrip('@').lower()}".encode()).hexdigest()


def skip_erased(session: Session, mentions: Sequence[RawMention]) -> tuple[list[RawMention], list[str]]:
    """The mentions not written by an erased identity, and one reason per skipped one (no handle in it)."""
    if not mentions or session.exec(select(ErasureTombstone.id).limit(1)).first() is None:
        return list(mentions), []
    hashes: dict[int, set[tuple[str, str]]] = {}
    for i, raw in enumerate(mentions):
        keys = {(raw.platform, id_hash(raw.platform, v)) for v in (raw.author_handle, raw.author_id) if v}
        if keys:
            hashes[i] = keys
    wanted = sorted({k for ks in hashes.values() for k in ks})
    hit: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), 400):
        hit.update((p, h) for p, h in session.exec(select(ErasureTombstone.platform, ErasureTombstone.id_hash).where(
            sa.tuple_(col(ErasureTombstone.platform), col(ErasureTombstone.id_hash)).in_(wanted[start:start + 400]))))
    if not hit:
        return list(mentions), []
    kept, reasons, counts = [], [], {}
    for i, raw in enumerate(mentions):
        matched = hashes.get(i, set()) & hit
        if matched:
            for key in matched:
                counts[key] = counts.get(key, 0) + 1
            reasons.append(f"{raw.platform}: a post by an erased customer, not collected")
        else:
            kept.append(raw)
    now = utcnow()
    for (platform, h), n in counts.items():
        session.execute(sa.update(ErasureTombstone).where(
            ErasureTombstone.platform == platform, ErasureTombstone.id_hash == h).values(
            skipped_count=ErasureTombstone.skipped_count + n, last_skipped_at=now))
    log.info("ingest: skipped %d post(s) by erased customers", len(reasons))
    return kept, reasons
