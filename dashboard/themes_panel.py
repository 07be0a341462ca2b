"""Themes in the dashboard: the Trends section (complaints, questions, praise) and the inbox's theme
filter. Both read careline/services/themes.py; every post and label is shown as plain text."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import streamlit as st

from careline.services import theme_terms, themes
from dashboard.components import clean, db, md_escape, one_line

TITLES = {"complaint": "Complaints", "question": "Questions", "praise": "Praise"}
FILTER_DAYS = 30


@st.cache_data(ttl=120, show_spinner="Grouping posts into themes…")
def _themes(since: datetime, until: datetime, intent: str, brand_ids: tuple[int, ...],
            platforms: tuple[str, ...]) -> themes.Themes:
    with db() as session:
        return themes.find_themes(session, since, until, intent=intent, brand_ids=brand_ids or None,
                                  platforms=platforms or None)


def _trend(t: theme_terms.Theme) -> str:
    if t.previous is None:
        return ""
    if not t.previous:
        return "new" if t.size else ""
    return f"{t.change:+.0%} ({t.previous} before)"


def show_trends(since: datetime, until: datetime, brand_ids: Sequence[int], platforms: Sequence[str]) -> None:
    """The Trends page's themes: one tab per intent, a table and each theme's three representative posts."""
    st.subheader("Themes")
    st.text("Posts grouped by meaning (their sentence embeddings), each theme named by its characteristic "
            "words; the trend compares with the same length of time just before.")
    tabs = st.tabs([TITLES[i] for i in themes.INTENTS])
    for tab, intent in zip(tabs, themes.INTENTS):
        with tab:
            found = _themes(since, until, intent, tuple(brand_ids), tuple(platforms))
            if not found.themes:
                st.text(f"No recurring {intent} themes in this range.")
                continue
            if found.reason:
                st.caption("Themes by frequent words, not meaning: " + clean(found.reason, 300))
            st.dataframe([{"Theme": clean(t.label, 120), "Mentions": t.size, "Share %": round(100 * t.share, 1),
                           "Trend": _trend(t), "Negative": t.sentiment.get("negative", 0),
                           "Neutral": t.sentiment.get("neutral", 0), "Positive": t.sentiment.get("positive", 0)}
                          for t in found.themes], hide_index=True, width="stretch")
            for t in found.themes[:5]:
                # an expander's label is Markdown, and a theme without characteristic words is named by
                # the first words of its central post: escaped, so a post cannot format or link the page
                with st.expander(f"{md_escape(t.label, 80)} — {t.size} posts"):
                    for _, text in t.examples:
                        st.text("• " + one_line(text, 300))


def filter_options(brand_ids: Sequence[int]) -> dict[str, list[int]]:
    """Inbox theme filter: "complaint · baggage · luggage (18)" → its mention ids, last 30 days."""
    until = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(days=FILTER_DAYS)
    options: dict[str, list[int]] = {}
    for intent in themes.INTENTS:
        found = _themes(since, until, intent, tuple(brand_ids), ())
        for t in found.themes:
            options[f"{intent} · {one_line(t.label, 60)} ({t.size})"] = t.mention_ids
    return options


def storm_details(alerts: Sequence[object], limit: int = 3) -> None:
    """Under the alerts table: what the latest spikes are about (services/storms.py), as plain text."""
    shown = 0
    for a in alerts:
        summary = (getattr(a, "detail", None) or {}).get("summary")
        if not summary or shown >= limit:
            continue
        shown += 1
        with st.expander(f"Alert #{getattr(a, 'id', '')}: what the spike is about"):
            if summary.get("sentence"):
                st.text(clean(summary["sentence"], 300))
            for t in summary.get("terms", []):
                st.text(f"• {one_line(t['term'], 60)}: {t['count']} posts ({t['share']:.0%}; usually "
                        f"{t['baseline_share']:.0%})")
            for t in summary.get("themes", []):
                usual = "" if t.get("baseline_share") is None else f"; usually {t['baseline_share']:.0%}"
                st.text(f"Theme {one_line(t['label'], 80)}: {t['count']} posts ({t['share']:.0%}{usual})")
                if t.get("example"):
                    st.text("   “" + one_line(t["example"], 280) + "”")
