"""The dashboard's charts, drawn here as SVG (no chart service, no script, nothing from
another origin). Each is an image with a title; the page puts its data in a table beside it.
Colours come from classes in ``app.css`` (the CSP forbids inline styles).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # a class of app.css: its colour
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """A round top for the axis (1, 2, 5 × 10ⁿ) above ``value``."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


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
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return parts


def line_chart(
    title_id: str, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    """Lines over weeks (a gap where a week has no value)."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0))
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
    top = _nice_max(max(totals, default=0))
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
    """One horizontal bar per row, a rate from 0 to 100 %."""
    row_h = 28
    label_w = 200
    height = TOP + row_h * max(len(rows), 1) + BOTTOM
    plot_w = WIDTH - label_w - RIGHT - 48
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{title_id}" focusable="false">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    for step in range(5):
        x = label_w + plot_w * step / 4
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}"/>'
        )
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{step * 25}\u00a0%</text>"
        )
    for index, (label, rate) in enumerate(rows):
        y = TOP + row_h * index
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + row_h * 0.65:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
        )
        if rate is None:
            parts.append(
                f'<text class="axis" x="{label_w + 4}" y="{y + row_h * 0.65:.1f}">—</text>'
            )
            continue
        width = plot_w * max(0.0, min(rate, 1.0))
        parts.append(
            f'<rect class="bar rate" x="{label_w}" y="{y + 5}" width="{width:.1f}" '
            f'height="{row_h - 10}"/>'
        )
        parts.append(
            f'<text class="axis" x="{label_w + width + 4:.1f}" y="{y + row_h * 0.65:.1f}">'
            f"{_number(rate * 100)}\u00a0%</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
