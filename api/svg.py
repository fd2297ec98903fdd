"""Tiny server-side SVG charts for the pages: bars and a line, no library, no script.

Rendered as markup into the page, so they work without JavaScript and under the
Content-Security-Policy (no inline style: colours come from classes in the page's
stylesheet). Every text is escaped. Each chart carries a ``<title>`` and a ``<desc>``
and is an ``img`` to assistive technology; the page puts a table with the same numbers
beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)


def _nice_max(value: int) -> int:
    """A round top for the axis (1, 2, 5 × 10^n) at or above ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _open(title: str, desc: str, width: int, height: int) -> tuple[str, list[str]]:
    uid = f"chart{next(_ids)}"
    head = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    return uid, head


def _axis(parts: list[str], top: int, left: int, right: int, base: int, plot_h: int) -> None:
    lines = top if top <= 5 else 5  # top is 1, 2 or 5 × 10^n: whole steps either way
    for i in range(lines + 1):
        value = top * i // lines
        y = base - plot_h * i / lines
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )


def bar_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (at most 3)."""
    _uid, parts = _open(title, desc, width, height)
    left, right, top_pad, bottom = 36, width - 8, 24, 28
    base = height - bottom
    plot_h = base - top_pad
    top = _nice_max(max((max(v, default=0) for _n, v in series), default=0))
    _axis(parts, top, left, right, base, plot_h)
    groups = max(1, len(labels))
    group_w = (right - left) / groups
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    every = max(1, groups // 12)  # at most about a dozen labels under the axis
    for g, label in enumerate(labels):
        x0 = left + g * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[g] if g < len(values) else 0
            h = plot_h * value / top
            x = x0 + s * bar_w
            parts.append(
                f'<rect class="bar s{s}" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {value} {escape(name)}</title></rect>'
            )
        if g % every == 0:
            cx = left + g * group_w + group_w / 2
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    _legend(parts, [name for name, _v in series], left, 14)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(
    title: str,
    desc: str,
    items: Sequence[tuple[str, int]],
    *,
    width: int = 640,
    row: int = 26,
) -> Markup:
    """Horizontal bars, one per item, with its label and value."""
    height = 12 + row * max(1, len(items))
    _uid, parts = _open(title, desc, width, height)
    label_w, right = 210, width - 48
    top = _nice_max(max((v for _l, v in items), default=0))
    for i, (label, value) in enumerate(items):
        y = 6 + i * row
        w = (right - label_w) * value / top
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + row * 0.62:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar s{i % 8}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row - 8}"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + row * 0.62:.1f}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Lines over evenly spaced labels (days), one per series."""
    _uid, parts = _open(title, desc, width, height)
    left, right, top_pad, bottom = 36, width - 8, 24, 28
    base = height - bottom
    plot_h = base - top_pad
    top = _nice_max(max((max(v, default=0) for _n, v in series), default=0))
    _axis(parts, top, left, right, base, plot_h)
    n = len(labels)
    step = (right - left) / max(1, n - 1)
    for s, (_name, values) in enumerate(series):
        points = " ".join(
            f"{left + i * step:.1f},{base - plot_h * v / top:.1f}" for i, v in enumerate(values)
        )
        parts.append(f'<polyline class="line s{s}" fill="none" points="{points}"/>')
    if n:
        ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))})
        for i in ticks:
            parts.append(
                f'<text class="label" x="{left + i * step:.1f}" y="{base + 16}" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
    _legend(parts, [name for name, _v in series], left, 14)
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(parts: list[str], names: Sequence[str], x: int, y: int) -> None:
    for s, name in enumerate(names):
        parts.append(
            f'<rect class="bar s{s}" x="{x + s * 170}" y="{y - 9}" width="10" height="10"/>'
            f'<text class="legend" x="{x + s * 170 + 14}" y="{y}">{escape(name)}</text>'
        )
