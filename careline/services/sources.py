"""Source administration: health, pause/resume, per-brand query options, cursors, and "Run now" requests.

Collecting itself is careline.services.collection; this module is what people do to sources (every
change audited) and how their health reads, for the Sources page, `careline sources` and `careline status`.

"Run now" does not collect in the caller (a rate-limit wait would freeze a dashboard page for up to 90 s):
`request_run` stores one request row per source, and the scheduler leader (careline.workers) takes the
requests and pulls that source's collect job forward, so the run has the job's no-overlap guarantee.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import Brand, BrandQuery, CollectorRun, SourceRunRequest, SourceState, utcnow
from careline.services import audit
from careline.services import brands as brand_service
from careline.services.source_state import save_source_state

FOREVER = timedelta(days=3650)
HEALTHY, FAILING, PAUSED, NEVER_RUN = "healthy", "failing", "paused", "never run"


@dataclass
class SourceHealth:
    """How one source is doing: `status` is one of HEALTHY, FAILING, PAUSED, NEVER_RUN."""

    name: str
    enabled: bool
    status: str
    states: list[SourceState] = field(default_factory=list)
    paused: list[SourceState] = field(default_factory=list)
    last_run: CollectorRun | None = None
    run_requested: SourceRunRequest | None = None


def query_health(state: SourceState, now: datetime | None = None) -> str:
    """One query's health: paused (until a time in the future), failing (its last error stands) or healthy."""
    now = now or utcnow()
    if state.paused_until and state.paused_until > now:
        return PAUSED
    return HEALTHY if state.healthy else FAILING


def health(session: Session, enabled: Sequence[str], now: datetime | None = None) -> list[SourceHealth]:
    """Every source that is enabled or has been collected, by name. A source is paused when any of its
    queries is; failing when any query's error stands or its latest run failed; never run without runs."""
    now = now or utcnow()
    all_states = states(session)
    latest = select(sa.func.max(CollectorRun.id)).group_by(col(CollectorRun.source))
    last_runs = {r.source: r for r in session.exec(select(CollectorRun).where(col(CollectorRun.id).in_(latest)))}
    requests = {r.source: r for r in session.exec(select(SourceRunRequest))}
    names = sorted(set(enabled) | {s.source for s in all_states} | set(last_runs))
    out = []
    for name in names:
        mine = [s for s in all_states if s.source == name]
        paused = [s for s in mine if query_health(s, now) == PAUSED]
        last = last_runs.get(name)
        if paused:
            status = PAUSED
        elif any(not s.healthy for s in mine) or (last is not None and last.error):
            status = FAILING
        elif last is None:
            status = NEVER_RUN
        else:
            status = HEALTHY
        out.append(SourceHealth(name, name in enabled, status, mine, paused, last, requests.get(name)))
    return out


def recent_runs(session: Session, source: str | None = None, limit: int = 50) -> list[CollectorRun]:
    stmt = select(CollectorRun).order_by(col(CollectorRun.id).desc()).limit(limit)
    if source:
        stmt = stmt.where(CollectorRun.source == source)
    return list(session.exec(stmt))


def states(session: Session) -> list[SourceState]:
    return list(session.exec(select(SourceState).order_by(col(SourceState.source), col(SourceState.query_key))))


def request_run(session: Session, source: str, actor: str, enabled: Sequence[str]) -> SourceRunRequest:
    """Ask the scheduler to collect `source` now (audited); a second request before it runs is the same one."""
    if source not in enabled:
        raise InvalidInput(f"{source} is not enabled (CARELINE_SOURCES), so it cannot run.")
    row = session.get(SourceRunRequest, source)
    if row is None:
        row = SourceRunRequest(source=source, requested_by=actor)
        session.add(row)
    audit.record(session, actor, "source_run", source=source)
    session.commit()
    return row


def take_run_requests(session: Session) -> list[SourceRunRequest]:
    """The scheduler leader's side: every pending request, removed as it is handed over."""
    rows = list(session.exec(select(SourceRunRequest).order_by(col(SourceRunRequest.requested_at))))
    for row in rows:
        session.delete(row)
    session.commit()
    return rows


def pause(session: Session, source: str, actor: str, until: datetime | None = None, reason: str | None = None) -> int:
    """Pause every query of a source (until a time, or until resumed); returns how many."""
    until = until or utcnow() + FOREVER
    keys = {q.key for _, q in brand_service.queries_for(session, source)}
    keys |= {st.query_key for st in session.exec(select(SourceState).where(SourceState.source == source))}
    for key in sorted(keys):
        save_source_state(session, source, key, paused_until=until, paused_reason=reason or f"paused by {actor}")
    audit.record(session, actor, "source_pause", source=source, until=until.isoformat())
    session.commit()
    return len(keys)


def resume(session: Session, source: str, actor: str) -> None:
    for st in session.exec(select(SourceState).where(SourceState.source == source)):
        st.paused_until, st.paused_reason, st.healthy = None, None, True
        session.add(st)
    audit.record(session, actor, "source_resume", source=source)
    session.commit()


def set_query(session: Session, brand_name: str, platform: str, actor: str, query: str | None = None,
              options: dict[str, str] | None = None) -> BrandQuery:
    """Create or update a brand's per-platform query (a hand-written query string and/or options)."""
    brand = session.exec(select(Brand).where(sa.func.lower(Brand.name) == brand_name.lower())).first()
    if brand is None:
        raise NotFound(f"No brand called {brand_name!r}; see the brands in careline.toml or the Settings page.")
    bq = session.exec(select(BrandQuery).where(BrandQuery.brand_id == brand.id, BrandQuery.platform == platform)
                      .order_by(col(BrandQuery.id))).first()
    if bq is None:
        bq = BrandQuery(brand_id=brand.id, platform=platform, query="", options={})  # type: ignore[arg-type]
    if query is not None:
        bq.query = query
    merged = dict(bq.options or {})
    for key, value in (options or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    bq.options = merged
    session.add(bq)
    session.flush()
    audit.record(session, actor, "brand_query", brand_id=brand.id, platform=platform, options=merged,
                 query=bq.query)
    session.commit()
    return bq


def reset_cursors(session: Session, source: str, actor: str) -> int:
    """Forget where each query of a source got to, so the next run starts from the newest items again."""
    n = 0
    for st in session.exec(select(SourceState).where(SourceState.source == source)):
        st.cursor = None
        session.add(st)
        n += 1
    audit.record(session, actor, "source_reset_cursors", source=source)
    session.commit()
    return n
