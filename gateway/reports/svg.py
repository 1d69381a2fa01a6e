"""Charts as server-rendered SVG for the console: no script, no external library.

Plain SVG elements with presentation attributes only (the console's Content-Security-Policy
allows no inline styles or scripts); every label is XML-escaped. Values come straight from a
report's typed data, so the chart shows exactly the figures beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030")
FONT = 'font-family="sans-serif" font-size="12"'


def _num(value: Decimal | int | float | None) -> float:
    return 0.0 if value is None else float(value)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[Decimal | int | None],
    *,
    title: str,
    maximum: float = 100.0,
    unit: str = "%",
) -> str:
    """Horizontal bars, one per label (coverage per major: 0-100 %)."""
    row, left, width = 26, 170, 360
    height = 40 + row * max(len(labels), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {left + width + 70} {height}" width="{left + width + 70}" '
        f'height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * row
        w = 0 if not maximum else max(0.0, min(_num(value) / maximum, 1.0)) * width
        shown = "—" if value is None else f"{value}{unit}"
        out.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" {FONT}>{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 14}" {FONT}>{escape(shown)}</text>'
        )
    out.append(
        f'<line x1="{left}" y1="18" x2="{left}" y2="{height - 8}" stroke="#888" />' + "</svg>"
    )
    return "".join(out)


def line_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[Decimal | int]],
    *,
    title: str,
) -> str:
    """One line per series over the categories (the weekly trend), with a legend."""
    left, top, width, height = 50, 20, 640, 220
    points = max(len(categories), 1)
    top_value = max([_num(v) for values in series.values() for v in values] + [1.0])
    step = width / max(points - 1, 1)

    def xy(i: int, value: Decimal | int) -> str:
        return f"{left + i * step:.1f},{top + height - _num(value) / top_value * height:.1f}"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {left + width + 160} {top + height + 40}" '
        f'width="{left + width + 160}" height="{top + height + 40}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" '
        'stroke="#888" />',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" stroke="#888" />',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" {FONT}>{top_value:g}</text>',
        f'<text x="{left - 6}" y="{top + height}" text-anchor="end" {FONT}>0</text>',
    ]
    every = max(1, points // 8)
    for i, label in enumerate(categories):
        if i % every == 0 or i == points - 1:
            out.append(
                f'<text x="{left + i * step:.1f}" y="{top + height + 16}" text-anchor="middle" '
                f"{FONT}>{escape(label)}</text>"
            )
    for n, (name, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        path = " ".join(xy(i, v) for i, v in enumerate(values))
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
        ly = top + 14 + n * 18
        out.append(
            f'<rect x="{left + width + 14}" y="{ly - 9}" width="12" height="12" fill="{color}" />'
            f'<text x="{left + width + 32}" y="{ly + 1}" {FONT}>{escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
