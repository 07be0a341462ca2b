"""Routing on the customer: VIP, "3rd complaint in 7 days" across linked platforms, other open cases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from careline.errors import InvalidInput
from careline.models import Brand, Mention
from careline.services import customers, routing
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

T0 = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)


def _post(s: Session, brand: Brand, platform: str, handle: str, days_ago: float, intent: str = "complaint") -> Mention:
    res = ingest(s, [make_raw(platform=platform, author_handle=handle, created_at=T0 - timedelta(days=days_ago),
                              text=f"Acme Air problem {platform} {days_ago}")], brand_id=brand.id)
    m = s.get(Mention, res.new_ids[0])
    assert m is not None
    apply_labels(s, [m], [Labels("negative", intent, {"negative": 0.9}, {intent: 0.9}, "en")], "test", 0.5)
    s.commit()
    return m


def test_third_complaint_in_a_week_across_platforms_and_vip(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        brand = Brand(name="Acme Air", keywords=["acme air"])
        s.add(brand)
        s.commit()
        ctx = routing.Context.load(s)
        third = routing.compile_rule({"complaints_within": {"count": 3, "days": 7}}, [{"tag": "repeat"}], ctx)
        vip = routing.compile_rule({"customer_vip": True}, [{"priority": 20}], ctx)
        other_open = routing.compile_rule({"customer_open_cases": 1}, [{"tag": "again"}], ctx)
        _post(s, brand, "x", "robin", 20)  # too old to count
        first = _post(s, brand, "x", "robin", 5)
        second = _post(s, brand, "reddit", "robin_r", 2)
        assert not third.matches(second)  # two strangers so far: one complaint each
        keep, other = customers.for_author(s, "x", "robin"), customers.for_author(s, "reddit", "robin_r")
        customers.merge(s, keep.id or 0, other.id or 0, "kim", "agent")  # type: ignore[union-attr]
        latest = _post(s, brand, "reddit", "robin_r", 0)
        assert third.matches(latest) and not third.matches(first)
        assert other_open.matches(latest)
        assert not vip.matches(latest)
        customers.update_profile(s, keep.id or 0, "kim", "agent", vip=True)  # type: ignore[union-attr]
        assert vip.matches(latest)
        s.refresh(keep)
        # four open posts, but the two Reddit ones within the case window are one case
        assert keep.open_count == 3 and keep.complaint_count == 4  # type: ignore[union-attr]
        with pytest.raises(InvalidInput, match="complaints_within"):
            routing.compile_rule({"complaints_within": {"count": 0, "days": 7}}, [{"tag": "x"}], ctx)
        with pytest.raises(InvalidInput, match="customer_vip"):
            routing.compile_rule({"customer_vip": "yes"}, [{"tag": "x"}], ctx)
        assert {"customer_vip", "complaints_within", "customer_open_cases"} <= set(routing.CONDITIONS)
        assert s.exec(select(Mention)).all()
