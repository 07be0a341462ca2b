"""Storm summaries: a spike alert says what the spike is about, with its share against the baseline, in
the stored alert, the dashboard's message and the delivered notification."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.reports.alerts import run_checks
from careline.services import storms
from careline.settings import Settings
from tests.reports.helpers import add, brands, mention
from tests.reports.test_alerts import NOW, _noise, _with_urls


def _storm(session: Session, brand, n: int = 30) -> None:  # type: ignore[no-untyped-def]
    texts = ["Acme Air lost my baggage in Oslo", "still no baggage, Acme Air lost it", "lost baggage again Acme Air"]
    add(session, *[mention(brand, NOW - timedelta(hours=2, minutes=i), "negative", "complaint", text=texts[i % 3])
                   for i in range(n)])


def test_spike_alert_names_what_it_is_about(settings: Settings, any_engine: Engine, hook) -> None:  # type: ignore[no-untyped-def]
    url, received = hook
    with Session(any_engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        _noise(session, own, seed=1)
        _storm(session, own)
    result = run_checks(_with_urls(settings, url), any_engine, now=NOW)
    spikes = [a for a in result.new if a.kind == "volume_spike"]
    assert spikes, [a.message for a in result.new]
    alert = spikes[0]
    summary = alert.detail["summary"]
    words = {w for t in summary["terms"] for w in t["term"].split()}
    assert {"baggage", "lost"} & words and "acme" not in words
    assert " of " in summary["sentence"] and "usually 0%" in summary["sentence"]
    assert summary["sentence"] in alert.message and "baggage" in alert.message
    assert "baggage" in summary["quote"]
    assert summary["posts"] >= 30 and summary["baseline_posts"] > 100
    delivered = " ".join(r.get("title", "") + " " + r.get("message", "") for r in received)
    assert "baggage" in delivered and "%" in delivered


def test_distinct_terms_need_a_rise_over_the_baseline() -> None:
    window = ["refund please"] * 5 + ["wifi down"] * 5
    baseline = ["refund please"] * 40 + ["flight ok"] * 60
    terms = storms.distinct_terms(window, baseline, set())
    assert [t["term"] for t in terms] == ["wifi down"]  # refunds are as common as usual: not the storm
    assert terms[0]["share"] == 0.5 and terms[0]["baseline_share"] == 0.0
