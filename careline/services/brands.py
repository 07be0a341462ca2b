"""Brands and the per-platform queries built from them."""
from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from careline.errors import InvalidInput
from careline.models import Brand, BrandQuery
from careline.services import audit
from careline.settings import BrandConfig
from collectors.base import Query


def sync_from_settings(session: Session, configs: Sequence[BrandConfig], actor: str = "system") -> list[Brand]:
    """Create brands named in settings that the database lacks; never deletes or overwrites edits."""
    existing = {b.name: b for b in session.exec(select(Brand))}
    for cfg in configs:
        if cfg.name not in existing:
            brand = Brand(name=cfg.name, keywords=cfg.keywords or [cfg.name.lower()], handles=cfg.handles,
                          exclusions=cfg.exclusions, competitor=cfg.competitor)
            session.add(brand)
            session.flush()
            assert brand.id is not None  # the flush gave it one
            if cfg.subreddits:
                session.add(BrandQuery(brand_id=brand.id, platform="reddit", query="",
                                       options={"subreddits": "+".join(cfg.subreddits)}))
            audit.record(session, actor, "brand_create", name=cfg.name)
            existing[cfg.name] = brand
    session.commit()
    return list(existing.values())


def all_brands(session: Session) -> list[Brand]:
    return list(session.exec(select(Brand).order_by(col(Brand.competitor), col(Brand.name))))


def save_brand(
    session: Session, actor: str, name: str, keywords: list[str], handles: list[str], exclusions: list[str],
    competitor: bool, brand_id: int | None = None,
) -> Brand:
    name = name.strip()
    if not name:
        raise InvalidInput("A brand needs a name.")
    brand = session.get(Brand, brand_id) if brand_id else None
    if brand is None:
        brand = Brand(name=name)
    brand.name, brand.competitor = name, competitor
    brand.keywords = [k.strip() for k in keywords if k.strip()] or [name.lower()]
    brand.handles = [h.strip().lstrip("@") for h in handles if h.strip()]
    brand.exclusions = [e.strip() for e in exclusions if e.strip()]
    session.add(brand)
    session.flush()
    audit.record(session, actor, "brand_save", brand_id=brand.id, name=name)
    session.commit()
    return brand


def queries_for(session: Session, platform: str) -> list[tuple[int, Query]]:
    """(brand id, Query) for every brand on one platform, including per-platform overrides."""
    out: list[tuple[int, Query]] = []
    overrides: dict[int, list[BrandQuery]] = {}
    for bq in session.exec(select(BrandQuery).where(BrandQuery.platform == platform, BrandQuery.enabled == True)):  # noqa: E712
        overrides.setdefault(bq.brand_id, []).append(bq)
    for b in all_brands(session):
        assert b.id is not None
        opts = {"competitor": "1" if b.competitor else "0"}
        extra = overrides.get(b.id, [])
        for bq in extra or [None]:  # type: ignore[list-item]
            o = dict(opts)
            if bq is not None:
                o.update({k: str(v) for k, v in (bq.options or {}).items()})
                if bq.query:
                    o["query"] = bq.query
            key = f"{platform}:{b.id}" + (f":{bq.id}" if bq is not None else "")
            out.append((b.id, Query(brand=b.name, terms=tuple(b.keywords), handles=tuple(b.handles),
                                    exclusions=tuple(b.exclusions), key=key, options=tuple(sorted(o.items())))))
    return out
