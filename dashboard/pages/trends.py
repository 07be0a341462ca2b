"""Trends: sentiment and intent volume over time, share of voice, response times, themes."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pandas as pd
import streamlit as st

from careline.services import app_settings, care_metrics, elapsed, inbox, tags, trends
from careline.settings import PLATFORMS
from dashboard import care_trends, reports_panel, themes_panel
from dashboard.components import clean, db, end_page, require_user, settings

user = require_user()
st.title("Trends")
st.text("How people feel about your brands over time, how loud you are against competitors, what the "
        "complaints are about, and how fast the team answers.")

zone = settings().zone
today = datetime.now(zone).date()
@st.cache_data(ttl=60, show_spinner=False)
def _tag_names() -> list[str]:
    with db() as session:
        return tags.list_tags(session)


with db() as session:
    brand_rows = inbox.brands(session)
    sla = app_settings.sla_minutes(session, settings().sla_minutes)
names = {b.id: b.name + (" (competitor)" if b.competitor else "") for b in brand_rows if b.id is not None}

c1, c2, c3, c6, c4, c5 = st.columns([2, 2, 2, 2, 1, 1])
picked = c1.date_input("Dates (inclusive)", value=(today - timedelta(days=29), today), key="tr_dates",
                       max_value=today + timedelta(days=1))
brand_ids = c2.multiselect("Brand", list(names), format_func=lambda i: clean(names[i]), key="tr_brand")
platforms = c3.multiselect("Platform", list(PLATFORMS), key="tr_platform")
tag_pick = c6.multiselect("Tags (any of)", _tag_names(), key="tr_tags")
granularity = c4.radio("Per", ["day", "week"], key="tr_gran", horizontal=True)
by = c5.radio("Split by", ["sentiment", "intent"], key="tr_by", horizontal=True)
if not (isinstance(picked, (tuple, list)) and len(picked) == 2):
    st.info("Pick a start and an end date.")
    end_page()
first, last = picked[0], picked[1]
since = datetime.combine(first, time.min, tzinfo=zone).astimezone(timezone.utc)
until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(timezone.utc)


@st.cache_data(ttl=60, show_spinner="Counting…")
def _load(since: datetime, until: datetime, brand_ids: tuple[int, ...], platforms: tuple[str, ...], by: str,
          granularity: str, sla: int, tag_pick: tuple[str, ...] = ()) -> dict[str, object]:
    with db() as session:
        volume = trends.volume(session, since, until, by=by, granularity=granularity, zone=settings().zone,
                               brand_ids=brand_ids, platforms=platforms, tags=tag_pick)
        # the default view (every brand, by sentiment) already holds what share of voice needs
        share = (trends.share_from_volume(session, volume) if by == "sentiment" and not brand_ids
                 else trends.share_of_voice(session, since, until, platforms=platforms, tags=tag_pick))
        return {
            "volume": volume,
            "share": share,
            "response": trends.response_times(session, since, until, sla, brand_ids=brand_ids, platforms=platforms,
                                              tags=tag_pick),
        }


def _minutes(seconds: float | None) -> str:
    minutes = elapsed.display_minutes(seconds)
    return "—" if minutes is None else f"{minutes:g} min"


data = _load(since, until, tuple(brand_ids), tuple(platforms), by, granularity, sla, tuple(tag_pick))
volume: list[trends.VolumeRow] = data["volume"]  # type: ignore[assignment]
share: list[trends.ShareRow] = data["share"]  # type: ignore[assignment]
resp: care_metrics.FirstResponses = data["response"]  # type: ignore[assignment]

total = sum(r.count for r in volume)
st.subheader(f"{by.title()} per {granularity}")
if not volume:
    st.info("No mentions in this range.")
else:
    df = pd.DataFrame([{"period": r.period, "label": r.label, "count": r.count, "brand": clean(r.brand),
                        "platform": r.platform} for r in volume])
    pivot = df.pivot_table(index="period", columns="label", values="count", aggfunc="sum", fill_value=0)
    order = [x for x in (*trends.LABELS[by], trends.UNCLASSIFIED) if x in pivot.columns]
    colors = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c", "complaint": "#d62728",
              "question": "#1f77b4", "praise": "#2ca02c", "other": "#9e9e9e", "unclassified": "#dddddd"}
    st.bar_chart(pivot[order], color=[colors[c] for c in order], height=320)
    st.text(f"{total:,} mentions from {first} to {last} ({settings().timezone}).")
    with st.expander("Per brand and platform"):
        table = df.pivot_table(index=["brand", "platform"], columns="label", values="count", aggfunc="sum",
                               fill_value=0)
        st.dataframe(table, width="stretch")

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Share of voice")
    if share:
        st.dataframe([{"Brand": clean(s.brand), "Competitor": "yes" if s.competitor else "", "Mentions": s.mentions,
                       "Share": round(100 * s.share, 1), "Positive": s.positive, "Negative": s.negative}
                      for s in share], hide_index=True, width="stretch",
                     column_config={"Share": st.column_config.ProgressColumn("Share %", min_value=0, max_value=100,
                                                                             format="%.1f%%")})
    else:
        st.text("No mentions in this range.")
with right:
    st.subheader("Response times")
    if resp.not_applicable:  # a competitor chosen alone: the service measures our own brands only
        st.text(resp.not_applicable)
    else:
        st.text(f"First response = from the post to our first reply sent; over complaints and questions about "
                f"your own brands. SLA: {sla} minutes.")
        r1, r2 = st.columns(2)
        r1.metric("Answered", f"{resp.answered_share:.0%}", help="Complaints and questions with a reply sent.")
        r1.text(f"{resp.answered:,} of {resp.actionable:,}")
        r2.metric("Within SLA", f"{resp.within_sla_share:.0%}", help="Unanswered ones count as missed.")
        r3, r4 = st.columns(2)
        r3.metric("Median first response", _minutes(resp.median_s))
        r4.metric("90th percentile", _minutes(resp.p90_s))

care_trends.show(since, until)
themes_panel.show_trends(since, until, brand_ids, platforms)
st.divider()
reports_panel.show(first, last)
