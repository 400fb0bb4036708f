"""The simulation report's charts: matplotlib figures saved as SVG, inlined in the one HTML file.

matplotlib is imported on the first chart (it takes about half a second), never at start-up:
``oms-sourcing --help`` and the server do not pay for it. Figures are built on
``matplotlib.figure.Figure`` (no pyplot: no global figure state, no interactive backend) and
saved with the SVG backend, text as text (smaller, selectable, and the tests read the ticks and
legends back), with a fixed hash salt and no date, so the same data gives the same bytes.

Colours are Okabe and Ito's colour-blind-safe set; each side also has its own line style
(histograms) and hatch (bars), so the sides read apart in grey too. The map's state outlines
come from ``data/us-states.geojson`` beside this file (US Census Bureau, public domain; data/README.md).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class SideStyle:
    colour: str
    line: str  # matplotlib line style
    hatch: str


# Okabe-Ito blue, orange, bluish green: baseline, candidate, legacy.
SIDE_STYLES = (SideStyle("#0072B2", "-", ""), SideStyle("#E69F00", "--", "//"), SideStyle("#009E73", ":", "\\\\"))
BETTER, WORSE = "#009E73", "#D55E00"  # Okabe-Ito bluish green and vermillion
# Paul Tol's "muted" scheme: nine colours that stay apart for colour-blind readers.
NODE_COLOURS = ("#332288", "#CC6677", "#117733", "#DDCC77", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")
OTHER = "#BBBBBB"
NODE_EDGE = "#4b5563"  # a node outside the nine coloured ones
STATES = Path(__file__).parent / "data" / "us-states.geojson"
MAP_BOUNDS = (-125.0, -66.5, 24.0, 49.8)  # lon, lon, lat, lat: the contiguous states

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
_PX = 72.0  # figures are sized in pixels: one point per pixel
_DECIMALS = re.compile(r"(\d\.\d)\d+")
_RASTER_DPI = 108  # rasterized parts (the map's dots) at 1.5 times the page's pixels


def style(index: int) -> SideStyle:
    return SIDE_STYLES[index % len(SIDE_STYLES)]


def _figure(width: int, height: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width / _PX, height / _PX), dpi=_PX, layout="constrained")


def _svg(name: str, label: str, draw: Callable[[], Figure]) -> str:
    """Draw and save a figure; the SVG without its XML prologue, sized in pixels, ids unique per chart."""
    import matplotlib

    settings: Any = {**_RC, "svg.hashsalt": name}  # matplotlib types its keys as literals
    with matplotlib.rc_context(settings):
        figure = draw()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", dpi=_RASTER_DPI, metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    # The chart's own ids (clip paths, markers, groups) must not collide with another chart's in the page.
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)
    text = re.sub(r'width="([\d.]+)pt" height="([\d.]+)pt"', r'width="\1" height="\2"', text, count=1)
    # Path coordinates to a tenth of a pixel (matplotlib writes six decimals): a third of the bytes.
    text = re.sub(r'd="[^"]*"', lambda m: _DECIMALS.sub(r"\1", m.group(0)), text)
    return text.replace("<svg ", f'<svg class="chart" data-chart="{name}" role="img" aria-label="{escape(label)}" ', 1)


def _percent_axis(axis: Any, peak: float) -> None:
    """Shares (fractions) as percentages, with a decimal only when the axis spans less than 5%."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0 if peak >= 0.05 else 1))


def kpi_changes(name: str, title: str, rows: Sequence[tuple[str, float | None, bool]], width: int = 540) -> str:
    """Relative change per KPI (label, change as a fraction or None, higher_is_better): bars either side of 0."""

    def draw() -> Figure:
        from matplotlib.patches import Patch

        figure = _figure(width, 70 + 24 * len(rows))
        ax = figure.add_subplot()
        labels = [label.replace("_", " ") for label, _, _ in rows]
        values = [0.0 if value is None else value for _, value, _ in rows]
        colours = [
            BETTER if value is not None and value != 0 and (value > 0) == higher else WORSE for _, value, higher in rows
        ]
        y = range(len(rows))
        bars = ax.barh(y, values, color=colours, height=0.6)
        peak = max((abs(v) for v in values), default=0.0) or 0.01
        ax.set_yticks(list(y), labels)
        ax.invert_yaxis()
        ax.axvline(0, color="#374151", linewidth=0.9)
        _percent_axis(ax.xaxis, peak)
        ax.set_xlabel("change relative to the baseline's value")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(-peak * 1.45, peak * 1.45)
        texts = ["n/a: baseline is 0" if value is None else f"{value:+.2%}" for _, value, _ in rows]
        ax.bar_label(bars, texts, padding=3, fontsize=9)
        ax.legend(
            handles=[Patch(color=BETTER, label="better"), Patch(color=WORSE, label="worse")],
            loc="lower right",
            fontsize=9,
        )
        ax.set_title(title)
        return figure

    return _svg(name, title, draw)


def histogram(
    name: str,
    title: str,
    series: Mapping[str, Sequence[float]],
    x_label: str,
    y_label: str,
    prefix: str = "",
    mean_decimals: int = 0,
    bins: int = 30,
    width: int = 640,
) -> str:
    """Each side's distribution as a step line (share of its values per bin), clipped at the 99th percentile.
    ``prefix`` goes before every value (a currency sign); the legend gives each side's mean."""
    import numpy as np

    def draw() -> Figure:
        from matplotlib.ticker import FuncFormatter

        figure = _figure(width, 290)
        ax = figure.add_subplot()
        values = np.concatenate([np.asarray(v, dtype=float) for v in series.values()] or [np.zeros(0)])
        if values.size == 0:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title)
            return figure
        high = float(np.quantile(values, 0.99)) or float(values.max()) or 1.0
        edges = np.linspace(0.0, high, bins + 1)
        for i, (side, data) in enumerate(series.items()):
            clipped = np.minimum(np.asarray(data, dtype=float), high)  # the last bin holds everything above
            counts, _ = np.histogram(clipped, bins=edges)
            shares = counts / max(1, len(data))
            mean = float(np.mean(data)) if len(data) else 0.0
            shown = f"{prefix}{mean:,.{mean_decimals}f}"
            s = style(i)
            ax.plot(
                edges,
                np.append(shares, shares[-1]),
                drawstyle="steps-post",
                color=s.colour,
                linestyle=s.line,
                linewidth=2.4 if i == 0 else 1.7,
                label=f"{side} (mean {shown})",
                gid=f"series-{side}",
            )
        ax.set_ylim(bottom=0)
        _percent_axis(ax.yaxis, ax.get_ylim()[1])
        ax.set_xlim(0, high)
        if prefix or high >= 10:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{prefix}{v:,.0f}"))
        last = f"{prefix}{edges[-2]:,.0f}"
        ax.set_xlabel(f"{x_label}; the last bin holds everything from {last} up")
        ax.set_ylabel(y_label)
        ax.legend(loc="upper right")
        ax.set_title(title)
        return figure

    return _svg(name, title, draw)


def grouped_bars(
    name: str,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    x_label: str,
    y_label: str,
    width: int = 640,
) -> str:
    """Shares (fractions) per category, one bar per side; the value on each bar when there are few."""

    def draw() -> Figure:
        figure = _figure(width, 290)
        ax = figure.add_subplot()
        count = max(1, len(series))
        bar = 0.8 / count
        few = len(categories) * count <= 18
        for i, (side, values) in enumerate(series.items()):
            s = style(i)
            x = [c - 0.4 + bar * (i + 0.5) for c in range(len(categories))]
            bars = ax.bar(
                x, values, width=bar, color=s.colour, hatch=s.hatch, edgecolor="white", linewidth=0.5,
                label=side,
            )  # fmt: skip
            for k, rectangle in enumerate(bars):  # ids in the SVG: series-<side>-<category>
                rectangle.set_gid(f"series-{side}-{k}")
            if few:
                ax.bar_label(bars, [f"{v:.0%}" if v >= 0.005 else "" for v in values], padding=2, fontsize=8)
        ax.set_xticks(range(len(categories)), categories)
        ax.grid(axis="x", visible=False)
        peak = max((v for vs in series.values() for v in vs), default=0.0)
        ax.set_ylim(0, peak * 1.15 or 1.0)
        _percent_axis(ax.yaxis, peak)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.legend(loc="upper right")
        ax.set_title(title)
        return figure

    return _svg(name, title, draw)


def node_bars(
    name: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], width: int = 560
) -> str:
    """Shipments per node, one thin horizontal bar per side, the busiest node on top."""

    def draw() -> Figure:
        from matplotlib.ticker import MaxNLocator, StrMethodFormatter

        count = max(1, len(series))
        figure = _figure(width, 110 + len(labels) * (6 + 8 * count))
        ax = figure.add_subplot()
        bar = 0.8 / count
        for i, (side, values) in enumerate(series.items()):
            s = style(i)
            y = [r - 0.4 + bar * (i + 0.5) for r in range(len(labels))]
            bars = ax.barh(
                y, values, height=bar, color=s.colour, hatch=s.hatch, edgecolor="white", linewidth=0.4,
                label=side,
            )  # fmt: skip
            for k, rectangle in enumerate(bars):  # ids in the SVG: series-<side>-<category>
                rectangle.set_gid(f"series-{side}-{k}")
        ax.set_yticks(range(len(labels)), labels, fontsize=9)
        ax.set_ylim(max(1, len(labels)) - 0.5, -0.5)  # the busiest first
        if not labels:
            ax.text(0.5, 0.5, "no shipments", ha="center", va="center", transform=ax.transAxes)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # counts: no half shipment
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_ticks_position("both")
        ax.tick_params(axis="x", labeltop=True)
        ax.set_xlabel("shipments over the period")
        ax.legend(loc="lower right")
        ax.set_title(title)
        return figure

    return _svg(name, title, draw)


@cache
def _state_rings() -> tuple[tuple[str, tuple[tuple[tuple[float, float], ...], ...]], ...]:
    """(postal code, outer rings) per state; holes are left out (no state's hole matters at this scale)."""
    doc = json.loads(STATES.read_text(encoding="utf-8"))
    out = []
    for feature in doc["features"]:
        rings = tuple(
            tuple((float(x), float(y)) for x, y in polygon[0]) for polygon in feature["geometry"]["coordinates"]
        )
        out.append((str(feature["properties"]["code"]), rings))
    return tuple(out)


@dataclass(frozen=True)
class MapNode:
    node_id: str
    lat: float
    lon: float
    kind: str


def ship_to_maps(
    name: str,
    title: str,
    panels: Sequence[tuple[str, Sequence[tuple[float, float, str]]]],
    nodes: Sequence[MapNode],
    colours: Mapping[str, str],
    width: int = 1300,
) -> str:
    """One map per panel (title, ship-to points as (lat, lon, serving node)) over the state outlines,
    the network's nodes on top (DCs as labelled squares, other nodes as rings), one legend below."""

    def draw() -> Figure:
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D

        lon0, lon1, lat0, lat1 = MAP_BOUNDS
        aspect = 1 / math.cos(math.radians((lat0 + lat1) / 2))
        panel_width = width / max(1, len(panels))
        height = int(panel_width * (lat1 - lat0) * aspect / (lon1 - lon0)) + 90
        figure = _figure(width, height)
        axes = figure.subplots(1, max(1, len(panels)), squeeze=False)[0]
        rings = [ring for _, state in _state_rings() for ring in state]
        for k, (ax, (panel, points)) in enumerate(zip(axes, panels, strict=False)):
            ax.add_collection(
                PolyCollection(
                    rings, facecolors="#f3f4f6", edgecolors="#9ca3af", linewidths=0.6, zorder=1, gid=f"us-states-{k}"
                )
            )
            if points:
                ax.scatter(
                    [p[1] for p in points],
                    [p[0] for p in points],
                    s=9,
                    c=[colours.get(p[2], OTHER) for p in points],
                    alpha=0.75,
                    linewidths=0,
                    zorder=2,
                    gid=f"ship-to-points-{k}",
                    rasterized=True,  # thousands of dots: one embedded image, not thousands of elements
                )
            dcs = [n for n in nodes if n.kind == "DC"]
            others = [n for n in nodes if n.kind != "DC"]
            if others:
                ax.scatter(
                    [n.lon for n in others], [n.lat for n in others], marker="o", s=22, facecolors="white",
                    edgecolors=[colours.get(n.node_id, NODE_EDGE) for n in others], linewidths=1.5, zorder=3,
                    gid=f"nodes-{k}",
                )  # fmt: skip
            if dcs:
                ax.scatter(
                    [n.lon for n in dcs], [n.lat for n in dcs], marker="s", s=70,
                    c=[colours.get(n.node_id, NODE_EDGE) for n in dcs], edgecolors="black", linewidths=1, zorder=4,
                    gid=f"dcs-{k}",
                )  # fmt: skip
            for n in dcs:
                ax.annotate(
                    n.node_id, (n.lon, n.lat), xytext=(7, 4), textcoords="offset points", fontsize=9,
                    fontweight="bold", zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
                )  # fmt: skip
            ax.set_xlim(lon0, lon1)
            ax.set_ylim(lat0, lat1)
            ax.set_aspect(aspect)
            ax.set_axis_off()
            ax.set_title(panel)
        handles = [
            Line2D([], [], marker="o", linestyle="", markersize=6, color=c, label=node) for node, c in colours.items()
        ]
        handles += [
            Line2D([], [], marker="o", linestyle="", markersize=6, color=OTHER, label="other nodes"),
            Line2D([], [], marker="s", linestyle="", markersize=8, markerfacecolor="#9ca3af",
                   markeredgecolor="black", label="a DC"),
            Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor="white",
                   markeredgecolor=NODE_EDGE, markeredgewidth=1.5, label="another node"),
        ]  # fmt: skip
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 13),
            title="ship-to point coloured by the node that ships its first box",
            fontsize=9,
        )
        return figure

    return _svg(name, title, draw)
