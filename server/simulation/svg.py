"""Small inline-SVG charts for the simulation report (no plotting library: one self-contained file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4f46e5",
           "#65a30d", "#0d9488", "#b45309")  # fmt: skip
SIDE_COLOURS = ("#2563eb", "#ea580c", "#6b7280")
OTHER = "#c4c4c4"


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><style>text{{font:11px system-ui,sans-serif;fill:#333}}'
        f".t{{font-weight:600;font-size:13px}}</style>"
        f'<text class="t" x="4" y="15">{escape(title)}</text>{body}</svg>'
    )


def legend(names: Sequence[str], colours: Sequence[str], x: int, y: int) -> str:
    parts = []
    for i, (name, colour) in enumerate(zip(names, colours, strict=False)):
        parts.append(
            f'<rect x="{x + i * 150}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + i * 150 + 14}" y="{y}">{escape(name[:22])}</text>'
        )
    return "".join(parts)


def grouped_bars(
    title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]], fmt: str = "{:.0%}", width: int = 640
) -> str:
    """Vertical bars: one group per category, one bar per series."""
    height, top, bottom, left = 250, 55, 30, 40
    names = list(series)
    peak = max((v for values in series.values() for v in values), default=0.0) or 1.0
    group = (width - left - 10) / max(1, len(categories))
    bar = group * 0.8 / max(1, len(names))
    plot = height - top - bottom
    parts = [legend(names, SIDE_COLOURS, left, 32)]
    for c, category in enumerate(categories):
        x0 = left + c * group + group * 0.1
        for s, name in enumerate(names):
            value = series[name][c]
            h = plot * value / peak
            x, y = x0 + s * bar, top + plot - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" fill="{SIDE_COLOURS[s % 3]}">'
                f"<title>{escape(name)} {escape(category)}: {fmt.format(value)}</title></rect>"
            )
            if len(categories) * len(names) <= 24:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{fmt.format(value)}</text>'
                )
        parts.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{height - 12}" text-anchor="middle">{escape(category)}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{top + plot}" x2="{width - 10}" y2="{top + plot}" stroke="#999"/>')
    return _svg(width, height, "".join(parts), title)


def hbars(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], fmt: str = "{:,.0f}", width: int = 640
) -> str:
    """Horizontal bars, one row per label, one thin bar per series."""
    names = list(series)
    row = 8 + 9 * len(names)
    top, left = 40, 70
    height = top + row * len(labels) + 10
    peak = max((v for values in series.values() for v in values), default=0.0) or 1.0
    span = width - left - 70
    parts = [legend(names, SIDE_COLOURS, left, 30)]
    for r, label in enumerate(labels):
        y0 = top + r * row
        parts.append(f'<text x="{left - 6}" y="{y0 + row / 2 + 3:.1f}" text-anchor="end">{escape(label)}</text>')
        for s, name in enumerate(names):
            value = series[name][r]
            w = span * value / peak
            y = y0 + 4 + s * 9
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="8" fill="{SIDE_COLOURS[s % 3]}">'
                f"<title>{escape(name)} {escape(label)}: {fmt.format(value)}</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{y + 7}" style="font-size:9px">{fmt.format(value)}</text>'
            )
    return _svg(width, height, "".join(parts), title)


def histogram(
    title: str, series: Mapping[str, Sequence[float]], bins: int = 30, unit: str = "$", width: int = 640
) -> str:
    """Overlaid step outlines of each series' distribution, clipped at the 99th percentile."""
    values = sorted(v for vs in series.values() for v in vs)
    if not values:
        return _svg(width, 60, '<text x="4" y="40">no data</text>', title)
    high = values[min(len(values) - 1, int(len(values) * 0.99))] or 1.0
    step = high / bins
    height, top, bottom, left = 240, 40, 30, 50
    plot_w, plot_h = width - left - 10, height - top - bottom
    counts: dict[str, list[float]] = {}
    for name, vs in series.items():
        c = [0.0] * bins
        for v in vs:
            c[min(bins - 1, int(v / step))] += 1
        counts[name] = [n / max(1, len(vs)) for n in c]
    peak = max(max(c) for c in counts.values()) or 1.0
    parts = [legend(list(series), SIDE_COLOURS, left, 30)]
    for s, (_name, c) in enumerate(counts.items()):
        points = [f"{left},{top + plot_h}"]
        for b, share in enumerate(c):
            y = top + plot_h - plot_h * share / peak
            points += [f"{left + b * plot_w / bins:.1f},{y:.1f}", f"{left + (b + 1) * plot_w / bins:.1f},{y:.1f}"]
        points.append(f"{left + plot_w},{top + plot_h}")
        colour = SIDE_COLOURS[s % 3]
        stroke = 3.0 if s == 0 else 1.5  # the baseline wider: visible under an identical candidate
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="{colour}" fill-opacity="0.12" stroke="{colour}" '
            f'stroke-width="{stroke}"/>'
        )
    for k in range(0, 6):
        x = left + plot_w * k / 5
        # The last bin also holds everything above the 99th percentile: its label says so, inside the chart.
        anchor, more = ("end", "+") if k == 5 else ("middle", "")
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{unit}{high * k / 5:,.0f}{more}</text>'
        )
    parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak:.0%}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>')
    return _svg(width, height, "".join(parts), title)


def delta_bars(title: str, rows: Sequence[tuple[str, float | None, bool]], width: int = 560) -> str:
    """Relative change per KPI (label, change as a fraction or None, higher_is_better), centred on 0."""
    top, row, label_w = 30, 20, 170
    height = top + row * len(rows) + 10
    mid = label_w + (width - label_w) / 2
    span = (width - label_w) / 2 - 60
    peak = max((abs(v) for _, v, _ in rows if v is not None), default=0.0) or 1.0
    parts = [f'<line x1="{mid}" y1="{top - 4}" x2="{mid}" y2="{height - 6}" stroke="#999"/>']
    for r, (label, value, higher_better) in enumerate(rows):
        y = top + r * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{mid + 4}" y="{y + 12}">n/a (base is 0)</text>')
            continue
        w = span * abs(value) / peak
        good = value == 0 or (value > 0) == higher_better
        colour = "#16a34a" if good else "#dc2626"
        x = mid if value >= 0 else mid - w
        parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="12" fill="{colour}"/>')
        tx = mid + w + 4 if value >= 0 else mid - w - 4
        anchor = "start" if value >= 0 else "end"
        parts.append(f'<text x="{tx:.1f}" y="{y + 12}" text-anchor="{anchor}">{value:+.2%}</text>')
    return _svg(width, height, "".join(parts), title)


def scatter_map(
    title: str,
    points: Sequence[tuple[float, float, str]],
    nodes: Sequence[tuple[str, float, float, str]],
    colours: Mapping[str, str],
    width: int = 640,
) -> str:
    """Ship-to points (lat, lon, serving node) over node markers (id, lat, lon, type), equirectangular."""
    lon0, lon1, lat0, lat1 = -125.0, -66.0, 24.0, 50.0
    height = int(width * (lat1 - lat0) / (lon1 - lon0) * 1.25) + 30

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (width * (lon - lon0) / (lon1 - lon0), 25 + (height - 30) * (lat1 - lat) / (lat1 - lat0))

    parts = [f'<rect x="0" y="22" width="{width}" height="{height - 22}" fill="#f6f8fb"/>']
    for lat, lon, node in points:
        x, y = xy(lat, lon)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="{colours.get(node, OTHER)}" fill-opacity="0.7"/>'
        )
    for node_id, lat, lon, kind in nodes:
        x, y = xy(lat, lon)
        colour = colours.get(node_id, "#555")
        if kind == "DC":
            parts.append(
                f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{colour}" stroke="#000">'
                f"<title>{escape(node_id)}</title></rect>"
                f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" style="font-weight:600">{escape(node_id)}</text>'
            )
        else:
            shape = "3" if kind in ("3PL", "DROP_SHIP") else "2.5"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{shape}" fill="#fff" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(node_id)} ({escape(kind)})</title></circle>"
            )
    return _svg(width, height, "".join(parts), title)
