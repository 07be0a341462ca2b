"""Weeks and local days in the configured zone, across DST and week boundaries."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from careline.errors import InvalidInput
from careline.reports.periods import last_complete_week, previous_week, range_period, week_period
from tests.reports.helpers import utc

BERLIN = ZoneInfo("Europe/Berlin")


def test_week_bounds_are_local_midnights_in_utc() -> None:
    w43 = week_period("2026-W43", BERLIN)  # Mon 19 Oct – Sun 25 Oct 2026; clocks go back on the Sunday
    assert (w43.first, w43.last) == (date(2026, 10, 19), date(2026, 10, 25))
    assert w43.start_utc == utc(2026, 10, 18, 22)  # CEST, UTC+2
    assert w43.end_utc == utc(2026, 10, 25, 23)  # CET, UTC+1: the week is 169 hours long
    w13 = week_period("2026w13", BERLIN)  # clocks go forward on Sun 29 Mar
    assert (w13.end_utc - w13.start_utc).total_seconds() == 167 * 3600
    assert previous_week(w43).label == "2026-W42"


def test_last_complete_week_is_cut_in_the_zone() -> None:
    # Sunday 23:30 in Berlin is already Monday in Tokyo: the last complete week differs by zone.
    now = utc(2026, 11, 22, 22, 30)
    assert last_complete_week(BERLIN, now).label == "2026-W46"
    assert last_complete_week(ZoneInfo("Asia/Tokyo"), now).label == "2026-W47"
    assert last_complete_week(ZoneInfo("UTC"), utc(2026, 1, 1, 12)).label == "2025-W52"


@pytest.mark.parametrize("bad", ["2026-W54", "W47", "2026-47", "yesterday"])
def test_bad_week_is_one_sentence(bad: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        week_period(bad, BERLIN)
    assert str(exc.value).endswith(".")


def test_range_validation() -> None:
    with pytest.raises(InvalidInput):
        range_period(date(2026, 2, 1), date(2026, 1, 1), BERLIN)
