"""The 12-week sentiment trend as a PNG (matplotlib, Agg canvas: no display, safe in worker threads)."""
from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from careline.reports.build import OVERALL

COLORS = {"positive": "#2e7d32", "neutral": "#9e9e9e", "negative": "#c62828"}


def trend_png(trend: list[dict[str, Any]], title: str = "Sentiment, last 12 weeks") -> bytes:
    """Top: weekly mentions of our brands stacked by sentiment. Bottom: net sentiment per brand."""
    weeks = sorted({r["week"] for r in trend})
    overall = {r["week"]: r for r in trend if r["brand"] == OVERALL}
    fig = Figure(figsize=(9, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    xs = list(range(len(weeks)))
    base = [0] * len(weeks)
    for sentiment in ("negative", "neutral", "positive"):
        values = [overall.get(w, {}).get(sentiment, 0) for w in weeks]
        top.bar(xs, values, bottom=base, color=COLORS[sentiment], label=sentiment, width=0.7)
        base = [b + v for b, v in zip(base, values)]
    top.set_ylabel("mentions")
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small", frameon=False)
    if not any(base):
        top.text(0.5, 0.5, "No mentions in these weeks", transform=top.transAxes, ha="center", va="center",
                 color="#666")
    brands = [OVERALL] + sorted({r["brand"] for r in trend} - {OVERALL})
    for name in brands:
        rows = {r["week"]: r for r in trend if r["brand"] == name}
        ys = [rows.get(w, {}).get("net_sentiment") for w in weeks]
        if any(y is not None for y in ys):
            bottom.plot(xs, [float("nan") if y is None else y for y in ys], marker="o",
                        linewidth=2.5 if name == OVERALL else 1.2, label=name)
    bottom.axhline(0, color="#999", linewidth=0.8)
    bottom.set_ylabel("net sentiment")
    bottom.set_ylim(-100, 100)
    if bottom.get_legend_handles_labels()[0]:
        bottom.legend(loc="best", fontsize="small", frameon=False, ncols=3)
    bottom.set_xticks(xs, [w.split("-")[1] for w in weeks], fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
