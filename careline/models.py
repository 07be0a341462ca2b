"""SQLModel tables. One `Mention` row per (platform, external_id); everything else hangs off it.

Timestamps are stored in UTC (`UTCDateTime` turns them back into aware datetimes on SQLite too).
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# the column helpers live a layer below, so the table modules imported at the end need not import this one
from careline.models_base import UTCDateTime, json_dict, json_list, ts, utcnow


class Status(str, enum.Enum):
    new = "new"
    assigned = "assigned"
    replied = "replied"
    resolved = "resolved"
    ignored = "ignored"
    waiting = "waiting"  # waiting on customer: we asked them something; their reply reopens the case


class ReplyState(str, enum.Enum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    unknown = "unknown"  # may have been posted: a human checks, never retried automatically
    cancelled = "cancelled"


class Role(str, enum.Enum):
    admin = "admin"
    agent = "agent"
    viewer = "viewer"


class Brand(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    keywords: list[str] = json_list()
    handles: list[str] = json_list()
    exclusions: list[str] = json_list()
    competitor: bool = False
    created_at: datetime = ts(nullable=False, default=utcnow)


class BrandQuery(SQLModel, table=True):
    """A per-platform query override for a brand (e.g. a hand-written X query or a subreddit list)."""

    __tablename__ = "brand_query"
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    platform: str = Field(max_length=20)
    query: str
    options: dict[str, Any] = json_dict()
    enabled: bool = True


class Author(SQLModel, table=True):
    """Rollup per (platform, handle) for the advocates page; updated by ingest and classification."""

    __table_args__ = (sa.UniqueConstraint("platform", "handle", name="uq_author_platform_handle"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    handle: str = Field(max_length=200)
    display_name: Optional[str] = None
    followers: Optional[int] = None
    mention_count: int = 0
    praise_count: int = 0
    complaint_count: int = 0
    first_seen_at: Optional[datetime] = ts()
    last_seen_at: Optional[datetime] = ts(index=True)
    last_thanked_at: Optional[datetime] = ts()


# the open statuses (services/priority.py OPEN_STATUSES) with no first response: what can still be due;
# literals, so that a query's own literal WHERE proves it (with bound parameters SQLite would not use it)
DUE_WHERE = "status IN ('new', 'assigned') AND first_response_at IS NULL"


class Mention(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("platform", "external_id", name="uq_mention_platform_external_id"),
        # The inbox sorts by priority within a status, optionally narrowed by brand/platform. (No label
        # indexes: the label filters are ORs over corrected_* that no planner answered from them; 0018.)
        sa.Index("ix_mention_inbox", "status", "priority", "created_at"),
        sa.Index("ix_mention_brand_inbox", "brand_id", "status", "priority"),
        sa.Index("ix_mention_platform_inbox", "platform", "status", "priority"),
        sa.Index("ix_mention_brand_created", "brand_id", "created_at"),
        sa.Index("ix_mention_pending", "classified_at", "lease_expires_at"),
        # Dashboard (migration 0002): priority order for filtered inbox pages; index-only trend counts.
        sa.Index("ix_mention_priority", "priority", "created_at"),
        sa.Index("ix_mention_trends", "created_at", "brand_id", "platform", "sentiment", "corrected_sentiment",
                 "intent", "corrected_intent", "first_response_at"),
        # Care workflow (migration 0024, was 0003's (status, respond_by)): the open, unanswered mentions by
        # deadline, with what the escalation claim tests, so it reads the index alone and in deadline order
        # (escalation, urgency refresh, "Overdue"); services/priority.py due_clause() is its WHERE.
        sa.Index("ix_mention_due", "respond_by", "id", "brand_id", "status", "first_response_at",
                 sqlite_where=sa.text(DUE_WHERE), postgresql_where=sa.text(DUE_WHERE)),
        # Customers (migration 0015): one identity's posts newest first, read in index order (timeline).
        sa.Index("ix_mention_author_timeline", "author_handle", "platform", "created_at"),
        # Deleted by the author (migration 0017): only those rows, so the inbox leaves them out cheaply.
        sa.Index("ix_mention_deleted", "deleted_at", sqlite_where=sa.text("deleted_at IS NOT NULL"),
                 postgresql_where=sa.text("deleted_at IS NOT NULL")),
        # A case's posts (migration 0021): only rows in a case, so SQLite's statistics see how few share
        # one (a full index counts the NULLs of every post without a case as one value and scanned instead).
        sa.Index("ix_mention_case_id", "case_id", sqlite_where=sa.text("case_id IS NOT NULL"),
                 postgresql_where=sa.text("case_id IS NOT NULL")),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    external_id: str = Field(max_length=200)
    brand_id: Optional[int] = Field(default=None, foreign_key="brand.id")
    url: Optional[str] = None
    author_handle: Optional[str] = Field(default=None, max_length=200)  # indexed by ix_mention_author_timeline
    author_name: Optional[str] = None
    author_followers: Optional[int] = None
    author_external_id: Optional[str] = None
    text: str = Field(sa_type=sa.Text)
    language: Optional[str] = Field(default=None, max_length=16)
    created_at: datetime = ts(nullable=False, index=True, default=utcnow)
    collected_at: datetime = ts(nullable=False, default=utcnow)
    parent_id: Optional[str] = None
    thread_id: Optional[str] = Field(default=None, index=True)
    raw: dict[str, Any] = json_dict()

    # classification (the model's); corrected_* is a person's, and wins where set
    sentiment: Optional[str] = Field(default=None, max_length=16)
    sentiment_score: Optional[float] = None
    sentiment_scores: dict[str, float] = json_dict()
    intent: Optional[str] = Field(default=None, max_length=16)
    intent_score: Optional[float] = None
    intent_scores: dict[str, float] = json_dict()
    model_version: Optional[str] = None
    classified_at: Optional[datetime] = ts()
    corrected_sentiment: Optional[str] = None
    corrected_intent: Optional[str] = None
    corrected_by: Optional[str] = None
    corrected_at: Optional[datetime] = ts()
    needs_review: bool = False
    # why it needs review: "low confidence" or "language not supported by the model (xx)" (classify/base.py)
    review_reason: Optional[str] = Field(default=None, max_length=60)
    # does it need an answer? classify/needs_reply.py's rule on the text and the effective intent, kept
    # by services/classification.py whenever labels or corrections change; the reason names the rule
    reply_needed: Optional[bool] = None
    reply_reason: Optional[str] = Field(default=None, max_length=20)
    # work-queue lease for classification (several workers on PostgreSQL)
    lease_owner: Optional[str] = None
    lease_expires_at: Optional[datetime] = ts()

    # triage
    status: str = Field(default=Status.new.value, max_length=16)
    assignee: Optional[str] = Field(default=None, max_length=100, index=True)
    priority: float = 0.0
    tags: list[str] = json_list()
    first_response_at: Optional[datetime] = ts()
    updated_at: datetime = ts(nullable=False, default=utcnow)
    deleted_at: Optional[datetime] = ts()  # the author deleted it on the platform (a stream said so); kept

    # care workflow (careline/services/sla.py, routing.py, cases.py); priority.py reads respond_by and boost
    respond_by: Optional[datetime] = ts()  # first-response deadline under the brand's SLA policy
    priority_boost: float = 0.0  # raised/lowered by routing rules and escalation, part of the priority
    team_id: Optional[int] = Field(default=None, index=True)
    case_id: Optional[int] = None  # id of the case's first mention (ix_mention_case_id above)
    resolved_at: Optional[datetime] = ts()


class Note(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    author: str
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = ts(nullable=False, default=utcnow)


class Reply(SQLModel, table=True):
    """Outbox row. queued → sending → sent | failed | unknown; only the sender moves it past queued."""

    __table_args__ = (sa.Index("ix_reply_state_next", "state", "next_attempt_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    platform: str = Field(max_length=20)
    kind: str = Field(default="reply", max_length=16)  # reply | thanks
    text: str = Field(sa_type=sa.Text)
    state: str = Field(default=ReplyState.queued.value, max_length=16)
    idempotency_key: str = Field(unique=True, max_length=64)
    platform_reply_id: Optional[str] = None
    url: Optional[str] = None
    dry_run: bool = False
    attempts: int = 0
    error: Optional[str] = None
    created_by: str
    created_at: datetime = ts(nullable=False, default=utcnow)
    updated_at: datetime = ts(nullable=False, default=utcnow)
    next_attempt_at: Optional[datetime] = ts()
    sent_at: Optional[datetime] = ts()
    lease_owner: Optional[str] = None
    lease_expires_at: Optional[datetime] = ts()
    attempted_at: Optional[datetime] = ts()  # the last claim to post it (recovery waits for it to show)


class SourceState(SQLModel, table=True):
    """Cursor and health per (source, query key). The cursor moves only with the batch it follows."""

    __tablename__ = "source_state"
    __table_args__ = (sa.UniqueConstraint("source", "query_key", name="uq_source_state"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    query_key: str = Field(max_length=200)
    cursor: Optional[str] = None
    healthy: bool = True
    paused_until: Optional[datetime] = ts()
    paused_reason: Optional[str] = None
    last_error: Optional[str] = None
    rate_limit_remaining: Optional[int] = None
    rate_limit_limit: Optional[int] = None
    rate_limit_reset_at: Optional[datetime] = ts()
    updated_at: datetime = ts(nullable=False, default=utcnow)


class CollectorRun(SQLModel, table=True):
    __tablename__ = "collector_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=20, index=True)
    query_key: Optional[str] = None
    started_at: datetime = ts(nullable=False, index=True, default=utcnow)
    finished_at: Optional[datetime] = ts()
    items_seen: int = 0
    items_new: int = 0
    items_skipped: int = 0
    api_calls: int = 0
    error: Optional[str] = None
    cursor_before: Optional[str] = None
    cursor_after: Optional[str] = None
    rate_limit_remaining: Optional[int] = None
    rate_limit_reset_at: Optional[datetime] = ts()


class SourceRunRequest(SQLModel, table=True):
    """A person's "Run now" for a source: the scheduler leader pulls the source's collect job forward
    (careline.services.sources). One row per source, so repeated clicks ask for one run."""

    __tablename__ = "source_run_request"
    source: str = Field(primary_key=True, max_length=20)
    requested_by: str = Field(max_length=100)
    requested_at: datetime = ts(nullable=False, default=utcnow)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = ts(nullable=False, index=True, default=utcnow)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50)
    mention_id: Optional[int] = Field(default=None, index=True)
    reply_id: Optional[int] = None
    detail: dict[str, Any] = json_dict()


class User(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=100)
    display_name: Optional[str] = None
    password_hash: str
    role: str = Field(default=Role.agent.value, max_length=16)
    active: bool = True
    created_at: datetime = ts(nullable=False, default=utcnow)


class AppSetting(SQLModel, table=True):
    """Settings editable from the dashboard (reply templates, SLA...), as JSON values by key."""

    __tablename__ = "app_setting"
    key: str = Field(primary_key=True, max_length=100)
    value: Any = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = ts(nullable=False, default=utcnow)
    updated_by: Optional[str] = None


class Alert(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("dedup_key", name="uq_alert_dedup"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)  # volume_spike | complaint_spike | vip_complaint
    brand_id: Optional[int] = None
    mention_id: Optional[int] = None
    dedup_key: str = Field(max_length=200)
    message: str
    detail: dict[str, Any] = json_dict()
    created_at: datetime = ts(nullable=False, index=True, default=utcnow)
    delivered_at: Optional[datetime] = ts()
    delivery_attempts: int = 0
    delivery_error: Optional[str] = None
    acknowledged_by: Optional[str] = None


class Lock(SQLModel, table=True):
    """A leader lease for schedulers (see careline/coordination.py); PostgreSQL also uses advisory locks."""

    name: str = Field(primary_key=True, max_length=100)
    owner: str = Field(max_length=200)
    expires_at: datetime = ts(nullable=False)


class MentionEmbedding(SQLModel, table=True):
    """A mention's sentence embedding from the classifier's encoder pass (services/embeddings.py).

    int8 with one scale per row: 384 bytes + 8, about 0.4 KB a mention (1,000,000 ≈ 420 MB on SQLite);
    float16 would be twice that. Which model made it is the mention's own `model_version` (both are
    written together by `apply_labels`, and re-classification replaces both)."""

    __tablename__ = "mention_embedding"
    mention_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("mention.id", ondelete="CASCADE"),
                                                primary_key=True, autoincrement=False))
    scale: float
    vector: bytes = Field(sa_type=sa.LargeBinary)


class StreamStatus(SQLModel, table=True):
    """One row per real-time stream (careline/streams.py): who consumes it, where, how fast and how late."""

    __tablename__ = "stream_status"
    source: str = Field(primary_key=True, max_length=40)
    owner: Optional[str] = Field(default=None, max_length=200)
    url: Optional[str] = None
    encoding: Optional[str] = Field(default=None, max_length=60)
    connected: bool = False
    message: Optional[str] = None  # why it is not connected, one sentence
    events_total: int = Field(default=0, sa_type=sa.BigInteger)
    bytes_total: int = Field(default=0, sa_type=sa.BigInteger)  # received, to estimate bandwidth per day
    matched_total: int = Field(default=0, sa_type=sa.BigInteger)
    new_total: int = Field(default=0, sa_type=sa.BigInteger)
    deleted_total: int = Field(default=0, sa_type=sa.BigInteger)
    skipped_total: int = Field(default=0, sa_type=sa.BigInteger)
    skipped_reasons: dict[str, int] = json_dict()
    events_per_minute: float = 0.0
    lag_seconds: Optional[float] = None  # now minus the platform time of the newest event stored
    last_event_at: Optional[datetime] = ts()
    connected_at: Optional[datetime] = ts()
    updated_at: datetime = ts(nullable=False, default=utcnow)


class MentionBrand(SQLModel, table=True):
    """The other brands a mention names, besides its primary `Mention.brand_id` (services/mention_brands.py)."""

    __tablename__ = "mention_brand"
    __table_args__ = (sa.Index("ix_mention_brand_brand", "brand_id", "mention_id"),)
    mention_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("mention.id", ondelete="CASCADE"),
                                                primary_key=True, autoincrement=False))
    brand_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("brand.id", ondelete="CASCADE"),
                                              primary_key=True, autoincrement=False))


# Customer tables live in their own module (issue #16); imported here so `careline.models` registers them all.
from careline.models_customers import (  # noqa: E402
    AuthorBrand, Customer, CustomerChange, CustomerIdentity, CustomerNote, ErasureTombstone, IdentityLink,
    LinkSuggestion,
)

# Saved views (issue #20) live in their own module too.
from careline.models_views import SavedView  # noqa: E402,F401

# The full-text index (FTS5 on SQLite, a tsvector column on PostgreSQL) is schema the models can't say:
# create_all builds it too, so tests see the same database the migrations make.
from careline import search_index  # noqa: E402

search_index.attach(Mention.__table__)  # type: ignore[attr-defined]

# "What changed since T" for the live refresh: max(updated_at) is one index probe at any table size.
sa.Index("ix_mention_updated_at", Mention.__table__.c.updated_at)  # type: ignore[attr-defined]
sa.Index("ix_reply_updated_at", Reply.__table__.c.updated_at)  # type: ignore[attr-defined]

# The live desk's tables live in their own module; importing it here registers them with the metadata.
from careline.models_desk import Presence, SignInThrottle, UserSession  # noqa: E402,F401

from careline.models_care import (  # noqa: E402,F401  (the care workflow's tables, registered with the metadata)
    AgentStatus,
    Escalation,
    RoutingRule,
    SlaPolicy,
    Team,
    TeamMember,
)


class PlatformUsage(SQLModel, table=True):
    """Posts read per platform per calendar month (UTC), for X's pay-per-post budget (services/budgets.py)."""

    __tablename__ = "platform_usage"
    platform: str = Field(primary_key=True, max_length=20)
    month: str = Field(primary_key=True, max_length=7)  # "2026-12"
    reads: int = Field(default=0, sa_type=sa.BigInteger)
    calls: int = 0
    plan_cap: Optional[int] = Field(default=None, sa_type=sa.BigInteger)  # from X's usage endpoint, if allowed
    plan_used: Optional[int] = Field(default=None, sa_type=sa.BigInteger)
    plan_reset_day: Optional[int] = None
    plan_reads_at_check: int = Field(default=0, sa_type=sa.BigInteger)  # our count when the plan was read
    plan_checked_at: Optional[datetime] = ts()
    updated_at: datetime = ts(nullable=False, default=utcnow)
