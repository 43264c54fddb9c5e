"""The dashboard's charts, drawn here as SVG (no chart service, no script, nothing from
another origin). Each is an image with a title; the page puts its data in a table beside it.
Colours come from classes in ``app.css`` (the CSP forbids inline styles).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# User units; on a phone the CSS makes the axis text bigger, so the margins leave it room.
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 14, 34


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # a class of app.css: its colour
    values: Sequence[float | None]


def _axis_top(value: float, *, whole: bool) -> float:
    """The top of an axis of four equal steps, each a round 1, 2, 2.5 or 5 × 10ⁿ, above
    ``value``; for counts (``whole``) every step is a whole number."""
    if value <= 0:
        return 4.0 if whole else 1.0
    wanted = max(value / 4, 1.0) if whole else value / 4
    scale = 10.0 ** math.floor(math.log10(wanted))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * scale
        if factor == 2.5 and scale < 1:
            continue  # 0.25 would need a second decimal
        if step >= wanted and (not whole or step == int(step)):
            return step * 4
    return 40 * scale


def _number(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _frame(title_id: str, title: str, top: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{title_id}" focusable="false">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_number(value)}{unit}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], every: int) -> list[str]:
    plot_w = WIDTH - LEFT - RIGHT
    parts = []
    count = len(labels)
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = LEFT + plot_w * (index + 0.5) / count
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return parts


def line_chart(
    title_id: str, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    """Lines over weeks (a gap where a week has no value)."""
    values = [v for s in series for v in s.values if v is not None]
    top = _axis_top(max(values, default=0), whole=False)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title_id, title, top, unit)
    count = len(labels)
    for s in series:
        runs: list[list[str]] = [[]]
        for index, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x = LEFT + plot_w * (index + 0.5) / count
            y = TOP + plot_h - plot_h * min(value, top) / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line {s.css}" points="{" ".join(run)}"/>')
            elif run:
                x, y = run[0].split(",")
                parts.append(f'<circle class="dot {s.css}" cx="{x}" cy="{y}" r="2.5"/>')
    parts += _x_labels(labels, max(1, count // 6))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    title_id: str, title: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    """Bars over weeks, the series stacked."""
    count = len(labels)
    totals = [sum((s.values[i] or 0) for s in series) for i in range(count)]
    top = _axis_top(max(totals, default=0), whole=True)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title_id, title, top, "")
    slot = plot_w / max(count, 1)
    for index in range(count):
        base = 0.0
        for s in series:
            value = s.values[index] or 0
            if not value:
                continue
            height = plot_h * value / top
            y = TOP + plot_h - plot_h * base / top - height
            parts.append(
                f'<rect class="bar {s.css}" x="{LEFT + slot * index + slot * 0.15:.1f}" '
                f'y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}"/>'
            )
            base += value
    parts += _x_labels(labels, max(1, count // 6))
    parts.append("</svg>")
    return Markup("".join(parts))


def rate_bars(title_id: str, title: str, rows: Sequence[tuple[str, float | None]]) -> Markup:
    """One horizontal bar per row, a rate from 0 to 100 %, its label written above it (so a
    long sub-specialty name keeps the whole width, on a phone too)."""
    row_h = 56
    height = TOP + row_h * max(len(rows), 1) + BOTTOM
    left = 8
    plot_w = WIDTH - left - RIGHT - 80  # room for the rate written after a full bar
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{title_id}" focusable="false">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    for step in range(5):
        x = left + plot_w * step / 4
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}"/>'
        )
        anchor = "start" if step == 0 else "middle"
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{height - 10}" text-anchor="{anchor}">'
            f"{step * 25}\u00a0%</text>"
        )
    for index, (label, rate) in enumerate(rows):
        y = TOP + row_h * index
        short = label if len(label) <= 48 else label[:47] + "…"
        parts.append(f'<text class="axis" x="{left}" y="{y + 20}">{escape(short)}</text>')
        bar_y = y + 28
        if rate is None:
            parts.append(f'<text class="axis" x="{left}" y="{bar_y + 16}">—</text>')
            continue
        width = plot_w * max(0.0, min(rate, 1.0))
        parts.append(
            f'<rect class="bar rate" x="{left}" y="{bar_y}" width="{width:.1f}" height="20"/>'
        )
        parts.append(
            f'<text class="axis" x="{left + width + 6:.1f}" y="{bar_y + 16}">'
            f"{_number(rate * 100)}\u00a0%</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
