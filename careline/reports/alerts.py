"""Alerts: volume and complaint-share spikes per brand, and complaints from high-reach authors.

Spikes are judged per UTC-aligned window (3 hours by default) against a robust baseline:
- volume: the same window of the day over the previous 14 days; fires when the count reaches
  median + 4 × max(1.4826·MAD, √median, 1) and at least `min_count` (so 3 mentions at night page nobody).
  Comparing like hours with like keeps the daily rhythm (quiet nights, busy evenings) out of the alarm.
- complaint share: the median of the previous 14 daily complaint shares is the baseline rate p; fires
  when the window holds ≥ `min_count` complaints, its share is ≥ p + 0.15, and the excess is ≥ 4 binomial
  standard deviations (a share from 12 mentions is noisier than one from 1,200).
Each check looks back `lookback_hours` (72) so a spike is found even if the scheduler was down; an alert's
dedup_key names brand, kind and window, so re-checking never duplicates, and a `cooldown_hours` gap keeps
one storm spanning adjacent windows to one alert. Rules can be tuned in the app setting "alert_rules".
"""
from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from careline.db import get_engine
from careline.models import Alert, Brand
from careline.reports import queries
from careline.reports.queries import INTENT, M
from careline.services import app_settings, audit
from careline.services.delivery import DeliveryResult, Notifier, deliver_pending
from careline.settings import Settings

log = logging.getLogger(__name__)
SPIKE_KINDS = ("volume_spike", "complaint_spike")


@dataclass(frozen=True)
class AlertRules:
    window_hours: int = 3
    baseline_days: int = 14
    lookback_hours: int = 72
    min_count: int = 10
    threshold: float = 4.0
    min_share_rise: float = 0.15
    cooldown_hours: int = 6
    vip_followers: int = 10_000
    vip_lookback_hours: int = 24
    min_interval_minutes: int = 10
    max_attempts: int = 6
    retry_minutes: int = 5

    def __post_init__(self) -> None:
        if self.window_hours <= 0 or 24 % self.window_hours:
            raise ValueError("alert window_hours must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)")

    @classmethod
    def from_session(cls, session: Session) -> "AlertRules":
        stored = app_settings.get(session, "alert_rules", {}) or {}
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in stored.items() if k in known})
        except (TypeError, ValueError) as exc:  # a bad hand edit must not silence every alert
            log.warning("ignoring the stored alert_rules (%s); using the defaults", exc)
            return cls()


@dataclass
class CheckResult:
    new: list[Alert] = field(default_factory=list)
    delivery: DeliveryResult = field(default_factory=DeliveryResult)


def run_checks(settings: Settings, engine: Engine | None = None, now: datetime | None = None,
               rules: AlertRules | None = None, notifier: Notifier | None = None) -> CheckResult:
    """Detect, store (deduplicated) and deliver. Called every 15 minutes by the scheduler."""
    engine = engine or get_engine(settings.url)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    result = CheckResult()
    with Session(engine, expire_on_commit=False) as session:
        rules = rules or AlertRules.from_session(session)
        candidates = detect_spikes(session, now, rules, settings.zone) + detect_vip_complaints(session, now, rules)
        result.new = store_new(session, candidates, rules)
        urls = [u.get_secret_value() for u in settings.alert_urls]
        result.delivery = deliver_pending(session, urls, now, min_interval_minutes=rules.min_interval_minutes,
                                          max_attempts=rules.max_attempts, retry_minutes=rules.retry_minutes,
                                          notifier=notifier)
    for alert in result.new:
        log.info("alert raised: %s", alert.message)
    if result.delivery.failed:
        log.warning("alert delivery failed for %d alert(s) (%s); will retry", result.delivery.failed,
                    ", ".join(result.delivery.errors))
    return result


def robust_threshold(samples: list[int], k: float) -> tuple[float, float]:
    """(median, threshold) with the MAD scaled to a standard deviation, floored by Poisson noise."""
    med = statistics.median(samples) if samples else 0.0
    mad = statistics.median([abs(s - med) for s in samples]) if samples else 0.0
    scale = max(1.4826 * mad, math.sqrt(med), 1.0)
    return med, med + k * scale


def detect_spikes(session: Session, now: datetime, rules: AlertRules, zone: tzinfo = timezone.utc) -> list[Alert]:
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.competitor).is_(False)))}
    if not brands:
        return []
    w = rules.window_hours
    now_hour = int(now.timestamp()) // 3600
    last_window = now_hour // w
    first_window = (now_hour - rules.lookback_hours + 1) // w
    since_hour = first_window * w - rules.baseline_days * 24
    counts = _hourly(session, since_hour, [b for b in brands if b is not None])
    per_day = 24 // w
    out: list[Alert] = []
    for brand_id, hours in counts.items():
        windows: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # total, classified, complaints
        for hour, (total, classified, complaints) in hours.items():
            acc = windows[hour // w]
            acc[0] += total
            acc[1] += classified
            acc[2] += complaints
        name = brands[brand_id].name
        for win in range(first_window, last_window + 1):
            total, classified, complaints = windows.get(win, [0, 0, 0])
            start = datetime.fromtimestamp(win * w * 3600, timezone.utc)
            local, end = start.astimezone(zone), (start + timedelta(hours=w)).astimezone(zone)
            span = f"{local:%a %d %b %H:%M}–{end:%H:%M} {end.tzname()}"
            history = [windows.get(win - d * per_day, [0, 0, 0]) for d in range(1, rules.baseline_days + 1)]
            med, limit = robust_threshold([h[0] for h in history], rules.threshold)
            if total >= rules.min_count and total >= limit:
                out.append(_spike("volume_spike", brand_id, start, w, total, med,
                                  f"{name}: {total} mentions in {span}, usually about {med:g}",
                                  {"baseline_median": med, "threshold": round(limit, 1)}))
            daily = [[sum(windows.get(win - d * per_day - i, [0, 0, 0])[j] for i in range(1, per_day + 1))
                      for j in (1, 2)] for d in range(rules.baseline_days)]
            shares = [c / n for n, c in daily if n >= 5]
            if len(shares) >= 3:
                p = statistics.median(shares)
            else:
                n_all, c_all = sum(n for n, _ in daily), sum(c for _, c in daily)
                p = c_all / n_all if n_all else 0.3
            p = min(max(p, 0.02), 0.98)
            share = complaints / classified if classified else 0.0
            z = (complaints - classified * p) / math.sqrt(classified * p * (1 - p)) if classified else 0.0
            if complaints >= rules.min_count and share >= p + rules.min_share_rise and z >= rules.threshold:
                out.append(_spike("complaint_spike", brand_id, start, w, complaints, p,
                                  f"{name}: complaints are {share:.0%} of {classified} mentions in {span}, "
                                  f"usually {p:.0%}",
                                  {"share": round(share, 3), "baseline_share": round(p, 3), "z": round(z, 1),
                                   "classified": classified}))
    return out


def _hourly(session: Session, since_hour: int, brand_ids: list[int]) -> dict[int, dict[int, tuple[int, int, int]]]:
    expr, key = queries.bucket_expr(session, 3600)
    bucket = expr.label("bucket")
    complaint = sa.func.sum(sa.case((INTENT == "complaint", 1), else_=0))
    classified = sa.func.sum(sa.case((INTENT != queries.UNCLASSIFIED, 1), else_=0))
    stmt = (
        sa.select(M.c.brand_id, bucket, sa.func.count(), classified, complaint)
        .where(M.c.created_at >= datetime.fromtimestamp(since_hour * 3600, timezone.utc), M.c.brand_id.in_(brand_ids))
        .group_by(M.c.brand_id, sa.literal_column("bucket"))
    )
    out: dict[int, dict[int, tuple[int, int, int]]] = defaultdict(dict)
    for brand_id, hour, total, n_classified, n_complaints in session.execute(stmt):
        out[brand_id][key(hour)] = (int(total), int(n_classified or 0), int(n_complaints or 0))
    return out


def _spike(kind: str, brand_id: int, start: datetime, hours: int, count: int, baseline: float, message: str,
           extra: dict[str, Any]) -> Alert:
    return Alert(kind=kind, brand_id=brand_id, dedup_key=f"{kind}:{brand_id}:{start:%Y-%m-%dT%H}",
                 message=message, detail={"window_start": start.isoformat(), "window_hours": hours,
                                          "count": count, "baseline": baseline, **extra})


def detect_vip_complaints(session: Session, now: datetime, rules: AlertRules) -> list[Alert]:
    brands = {b.id: b.name for b in session.exec(select(Brand).where(col(Brand.competitor).is_(False)))}
    if not brands:
        return []
    stmt = (
        sa.select(M.c.id, M.c.brand_id, M.c.platform, M.c.author_handle, M.c.author_followers, M.c.text, M.c.url)
        .where(M.c.created_at >= now - timedelta(hours=rules.vip_lookback_hours), INTENT == "complaint",
               M.c.author_followers >= rules.vip_followers, M.c.brand_id.in_(list(brands)))
        .order_by(M.c.author_followers.desc(), M.c.id.desc()).limit(20)  # equal reach: the newest complaints
    )
    return [Alert(kind="vip_complaint", brand_id=r.brand_id, mention_id=r.id, dedup_key=f"vip_complaint:{r.id}",
                  message=f"{brands[r.brand_id]}: complaint from {r.author_handle or 'an author'} on {r.platform} "
                          f"({r.author_followers:,} followers)",
                  detail={"quote": (r.text or "")[:280], "url": r.url, "followers": r.author_followers})
            for r in session.execute(stmt)]


def store_new(session: Session, candidates: list[Alert], rules: AlertRules) -> list[Alert]:
    """Insert alerts whose dedup_key is new and that are not inside a spike's cooldown."""
    if not candidates:
        return []
    keys = [a.dedup_key for a in candidates]
    known = set(session.exec(select(Alert.dedup_key).where(col(Alert.dedup_key).in_(keys))))
    horizon = timedelta(hours=rules.lookback_hours + rules.cooldown_hours + 24)
    # A storm is one alert: a firing window within the cooldown of the storm's latest window extends that
    # alert (detail["last_window_start"]) instead of raising a new one.
    storms: dict[tuple[str, int | None], list[Alert]] = defaultdict(list)
    for old in session.exec(select(Alert).where(col(Alert.kind).in_(SPIKE_KINDS),
                                                col(Alert.created_at) >= datetime.now(timezone.utc) - horizon)):
        if old.detail.get("window_start"):
            storms[(old.kind, old.brand_id)].append(old)
    cooldown = timedelta(hours=rules.cooldown_hours)
    created = []
    for alert in sorted(candidates, key=lambda a: (a.detail.get("window_start", ""), a.dedup_key)):
        if alert.dedup_key in known:
            continue
        if alert.kind in SPIKE_KINDS:
            start = datetime.fromisoformat(alert.detail["window_start"])
            storm = next((old for old in storms[(alert.kind, alert.brand_id)]
                          if datetime.fromisoformat(old.detail["window_start"]) <= start
                          and start - _last_window(old) < cooldown), None)
            if storm is not None:
                windows = sorted({*storm.detail.get("windows", [storm.detail["window_start"]]), start.isoformat()})
                storm.detail = {**storm.detail, "last_window_start": max(start, _last_window(storm)).isoformat(),
                                "windows": windows}
                session.add(storm)
                known.add(alert.dedup_key)
                continue
            storms[(alert.kind, alert.brand_id)].append(alert)
        if alert.kind in SPIKE_KINDS and alert.brand_id is not None:
            _add_summary(session, alert, rules)
        try:
            with session.begin_nested():  # another scheduler may insert the same key at the same time
                session.add(alert)
        except IntegrityError:
            continue
        known.add(alert.dedup_key)
        created.append(alert)
    session.commit()
    return created


def _add_summary(session: Session, alert: Alert, rules: AlertRules) -> None:
    """Say what the spike is about (services/storms.py): in the message and in detail["summary"]. A
    failing summary must not cost the alert itself: it is raised without one, and the log says why."""
    from careline.services import storms

    start = datetime.fromisoformat(alert.detail["window_start"])
    try:
        summary = storms.summarise(session, alert.brand_id, start,  # type: ignore[arg-type]
                                   start + timedelta(hours=alert.detail.get("window_hours", rules.window_hours)),
                                   rules.baseline_days)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("could not summarise the %s of brand %s; raising the alert without a summary",
                      alert.kind, alert.brand_id)
        return
    if summary["sentence"]:
        alert.message = f"{alert.message} — {summary['sentence']}"
    alert.detail = {**alert.detail, "summary": summary, "quote": summary["quote"]}


def _last_window(alert: Alert) -> datetime:
    return datetime.fromisoformat(alert.detail.get("last_window_start") or alert.detail["window_start"])


def list_alerts(session: Session, limit: int = 100, include_acknowledged: bool = True) -> list[Alert]:
    """Newest first, for the dashboard and `careline alerts`."""
    stmt = select(Alert).order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit)
    if not include_acknowledged:
        stmt = stmt.where(col(Alert.acknowledged_by).is_(None))
    return list(session.exec(stmt))


def acknowledge(session: Session, alert_id: int, actor: str) -> Alert:
    """Mark an alert as seen by a person (audited)."""
    from careline.errors import NotFound

    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert #{alert_id}.")
    alert.acknowledged_by = actor
    session.add(alert)
    audit.record(session, actor, "alert_ack", alert_id=alert_id, kind=alert.kind)
    session.commit()
    return alert


def rules_dict(rules: AlertRules) -> dict[str, Any]:
    return asdict(rules)
