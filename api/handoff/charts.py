"""A small inline SVG bar chart of the daily satisfaction averages, made on the server (no script, no CDN).

Every text in it is escaped; it has a title and a description for screen readers, and each bar says its
value in words, so the chart is not the only way to read the numbers (the page also shows them in a table).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from api.handoff.schemas import DaySatisfaction

WIDTH = 640
HEIGHT = 220
LEFT = 36
BOTTOM = 36
TOP = 16
BAR_COLOR = "#1a4480"  # 9.4:1 on white
AXIS_COLOR = "#565c65"  # 6.4:1 on white


def satisfaction_svg(days: Sequence[DaySatisfaction]) -> str:
    """Bars of the average rating (1-5) per day; a day without ratings has no bar and says so."""
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - 8) / max(1, len(days))
    bar_w = max(6.0, slot * 0.6)
    rated = [d for d in days if d.average is not None]
    summary = (
        "; ".join(f"{d.day:%b} {d.day.day}: {d.average:.1f} from {d.ratings}" for d in rated)
        if rated
        else "No ratings in this period."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        'aria-labelledby="sat-chart-title sat-chart-desc" class="chart">',
        '<title id="sat-chart-title">Average satisfaction rating by day (1 to 5)</title>',
        f'<desc id="sat-chart-desc">{escape(summary)}</desc>',
    ]
    for value in range(0, 6):
        y = TOP + plot_h - plot_h * value / 5
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 4}" y2="{y:.1f}" stroke="#dfe1e2" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{AXIS_COLOR}">{value}</text>'
        )
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_w) / 2
        label = f"{day.day:%m/%d}"
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10" '
            f'fill="{AXIS_COLOR}">{escape(label)}</text>'
        )
        if day.average is None:
            continue
        h = plot_h * day.average / 5
        y = TOP + plot_h - h
        title = f"{day.day:%B} {day.day.day}: average {day.average:.2f} from {day.ratings} rating(s)"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR_COLOR}">'
            f"<title>{escape(title)}</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10" '
            f'fill="#1b1b1b">{day.average:.1f}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" stroke={quoteattr(AXIS_COLOR)}/>'
    )
    parts.append("</svg>")
    return "".join(parts)
