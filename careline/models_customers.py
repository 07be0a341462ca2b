"""Customer tables: one person above their platform authors (issue #16).

`Author` stays the per-(platform, handle) rollup ingest keeps; a `CustomerIdentity` ties one author to one
`Customer` (one-to-one when first seen, several once a person confirms a link). Counts on `Customer` and
`AuthorBrand` are maintained only by `careline.services.customer_counts`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from careline.models_base import json_dict, json_list, ts, utcnow


class Customer(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_customer_complaints", "complaint_count"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    display_name: Optional[str] = Field(default=None, max_length=200)
    notes: Optional[str] = Field(default=None, sa_type=sa.Text)  # a standing note; dated notes are CustomerNote
    tags: list[str] = json_list()
    vip: bool = False
    # maintained counts (services/customer_counts.py), own brands only: competitors' mentions are not care
    mention_count: int = 0
    complaint_count: int = 0
    praise_count: int = 0
    open_count: int = 0
    last_contact_at: Optional[datetime] = ts()
    last_thanked_at: Optional[datetime] = ts()
    last_thanked_platform: Optional[str] = Field(default=None, max_length=20)
    # the author this customer was made for (set-based backfill and ingest join on it); None after a split
    seed_author_id: Optional[int] = Field(default=None, unique=True)
    merged_into_id: Optional[int] = Field(default=None, index=True)  # a merged-away customer, kept for undo
    erased_at: Optional[datetime] = ts()
    created_at: datetime = ts(nullable=False, default=utcnow)
    updated_at: datetime = ts(nullable=False, default=utcnow)


class CustomerIdentity(SQLModel, table=True):
    """One platform author of a customer. Keys are normalised by services/customer_links.py."""

    __tablename__ = "customer_identity"
    __table_args__ = (
        sa.Index("ix_identity_platform_handle", "platform", "handle"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    author_id: int = Field(foreign_key="author.id", unique=True)
    platform: str = Field(max_length=20)
    handle: str = Field(max_length=200)
    external_id: Optional[str] = Field(default=None, max_length=200)
    profile_url: Optional[str] = None
    handle_key: Optional[str] = Field(default=None, max_length=200, index=True)
    name_key: Optional[str] = Field(default=None, max_length=200, index=True)
    profile_key: Optional[str] = Field(default=None, max_length=300, index=True)
    keyed_at: Optional[datetime] = ts()  # None: keys not computed yet (the link job fills them)
    touched_at: datetime = ts(nullable=False, index=True, default=utcnow)  # new or links changed
    linked_by: Optional[str] = Field(default=None, max_length=100)
    linked_at: Optional[datetime] = ts()


class IdentityLink(SQLModel, table=True):
    """A URL an identity's profile points to (website, Mastodon field, X url); `verified` when the platform says."""

    __tablename__ = "identity_link"
    __table_args__ = (sa.UniqueConstraint("identity_id", "url_key", name="uq_identity_link"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="customer_identity.id", index=True)
    url_key: str = Field(max_length=300, index=True)
    url: str
    verified: bool = False


class AuthorBrand(SQLModel, table=True):
    """Per (author, brand) counts, so advocates and customer counts never count a competitor's praise."""

    __tablename__ = "author_brand"
    __table_args__ = (
        sa.UniqueConstraint("author_id", "brand_id", name="uq_author_brand"),
        sa.Index("ix_author_brand_praise", "brand_id", "praise_count"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="author.id")
    brand_id: int = 0  # 0: a mention with no brand (no foreign key, so 0 can stand for none)
    mention_count: int = 0
    praise_count: int = 0
    complaint_count: int = 0
    last_seen_at: Optional[datetime] = ts()


class LinkSuggestion(SQLModel, table=True):
    """Two identities that look like one person; a person accepts (merge) or dismisses it."""

    __tablename__ = "link_suggestion"
    __table_args__ = (sa.UniqueConstraint("identity_a", "identity_b", name="uq_link_suggestion_pair"),
                      sa.Index("ix_link_suggestion_state", "state", "score"))
    id: Optional[int] = Field(default=None, primary_key=True)
    identity_a: int = Field(foreign_key="customer_identity.id")  # the smaller id
    identity_b: int = Field(foreign_key="customer_identity.id", index=True)
    reasons: list[str] = json_list()
    score: float = 0.0
    evidence: dict[str, Any] = json_dict()
    state: str = Field(default="open", max_length=16)  # open | accepted | dismissed | auto
    created_at: datetime = ts(nullable=False, default=utcnow)
    decided_by: Optional[str] = Field(default=None, max_length=100)
    decided_at: Optional[datetime] = ts()


class CustomerChange(SQLModel, table=True):
    """A merge or split, with what moved, so it can be undone exactly."""

    __tablename__ = "customer_change"
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # merge | split
    customer_id: int = Field(index=True)  # kept (merge) / split from (split)
    other_customer_id: int = Field(index=True)  # merged away (merge) / created (split)
    identity_ids: list[int] = json_list()
    actor: str = Field(max_length=100)
    at: datetime = ts(nullable=False, default=utcnow)
    reason: Optional[str] = None
    detail: dict[str, Any] = json_dict()  # ids only (notes moved, the suggestion accepted): never personal data
    undone_by: Optional[str] = Field(default=None, max_length=100)
    undone_at: Optional[datetime] = ts()


class CustomerNote(SQLModel, table=True):
    __tablename__ = "customer_note"
    id: Optional[int] = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    author: str = Field(max_length=100)
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = ts(nullable=False, default=utcnow)


class ErasureTombstone(SQLModel, table=True):
    """An erased identity, by platform and a hash of its handle or id: ingest skips (and counts) its posts."""

    __tablename__ = "erasure_tombstone"
    __table_args__ = (sa.UniqueConstraint("platform", "id_hash", name="uq_tombstone"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    id_hash: str = Field(max_length=64)
    erased_at: datetime = ts(nullable=False, default=utcnow)
    skipped_count: int = 0
    last_skipped_at: Optional[datetime] = ts()
