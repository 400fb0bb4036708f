"""The report page read back: every chart has scaled axes, a legend naming the sides, sides drawn
apart; the map has state outlines; the two deltas are labelled; the gate lines say which way it went."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from server.cli.main import main
from tests.server.simulation.conftest import HISTORY, NETWORK, NO_STORE_B, write_jsonl

SVG = "{http://www.w3.org/2000/svg}"
SIDES = ["baseline", "candidate", "legacy"]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One report with all three sides (the module's tests read it; drawing it takes a second or two)."""
    tmp = tmp_path_factory.mktemp("report")
    network = tmp / "network.json"
    network.write_text(json.dumps(NETWORK), encoding="utf-8")
    rules = tmp / "no-store-b.yaml"
    rules.write_text(NO_STORE_B, encoding="utf-8")
    history = write_jsonl(tmp / "history.jsonl", HISTORY)
    legacy = write_jsonl(
        tmp / "legacy.jsonl",
        [{"order_id": o["order_id"], "allocations": [{"line_id": "L1", "node_id": "DC-A", "qty": 1}]} for o in HISTORY],
    )
    out = tmp / "out"
    argv = ["simulate", "run", "--network", str(network), "--orders", str(history), "--out", str(out),
            "--workers", "1", "--no-progress", "--compare", str(rules), "--legacy", str(legacy),
            "--fail-if", "cost_per_order>+50%", "--fail-if", "fill_rate<0"]  # fmt: skip
    assert main(argv) == 3  # the fill rate went down: the second threshold fails
    return (out / "report.html").read_text(encoding="utf-8")


def charts(page: str) -> dict[str, ET.Element]:
    found = {}
    for svg in re.findall(r"<svg class=\"chart\".*?</svg>", page, flags=re.S):
        root = ET.fromstring(svg)
        found[root.attrib["data-chart"]] = root
    return found


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def group(root: ET.Element, suffix: str) -> ET.Element:
    matches = [g for g in root.iter(f"{SVG}g") if g.attrib.get("id", "").endswith(suffix)]
    assert matches, f"{root.attrib['data-chart']}: no group {suffix}"
    return matches[0]


def tick_labels(root: ET.Element, axis: str) -> list[str]:
    return [
        label
        for g in root.iter(f"{SVG}g")
        if re.search(rf"-{axis}tick_\d+$", g.attrib.get("id", ""))
        for label in texts(g)
        if label
    ]


def test_the_page_is_one_file_with_every_chart(page: str) -> None:
    assert set(charts(page)) == {
        "kpi-changes", "cost-per-order", "shipments-per-order", "zone-mix", "miles-per-shipment", "node-shipments",
        "ship-to-map",
    }  # fmt: skip
    assert "<script" not in page and "<img" not in page
    assert not re.search(r"(src|href)=\"https?:", page)  # nothing to fetch: images are inline data
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # seven SVGs in one page: no id shared between them


@pytest.mark.parametrize(
    ("chart", "scales", "units"),
    [  # scales: the axes with a numeric scale (the others list categories); units: their tick labels' unit
        ("cost-per-order", "xy", ("$", "%")),
        ("miles-per-shipment", "xy", ("", "%")),
        ("shipments-per-order", "y", ("%",)),
        ("zone-mix", "y", ("%",)),
        ("node-shipments", "x", ("",)),
        ("kpi-changes", "x", ("%",)),
    ],
)
def test_every_chart_has_scaled_axes(page: str, chart: str, scales: str, units: tuple[str, ...]) -> None:
    root = charts(page)[chart]
    for axis, unit in zip(scales, units, strict=True):
        labels = tick_labels(root, axis)
        assert len(set(labels)) >= 3, labels  # a scale, not just the maximum
        assert all(unit in label for label in labels if label not in ("0", "$0")), labels
        if unit == "":
            assert all(re.fullmatch(r"[\d,.]+", label) for label in labels), labels
    for axis in "xy":
        assert tick_labels(root, axis), f"{chart}: no {axis} tick labels"
    axis_labels = [t for t in texts(root) if t not in tick_labels(root, "x") + tick_labels(root, "y")]
    assert any(re.search(r"share of|shipments over|USD|miles|relative to", t) for t in axis_labels), axis_labels


@pytest.mark.parametrize("chart", ["cost-per-order", "miles-per-shipment", "shipments-per-order", "zone-mix"])
def test_the_legend_names_every_side(page: str, chart: str) -> None:
    legend = texts(group(charts(page)[chart], "legend_1"))
    assert [label.split(" (")[0] for label in legend] == SIDES


def test_the_sides_lines_differ_in_colour_and_dash(page: str) -> None:
    root = charts(page)["cost-per-order"]
    styles = []
    for side in SIDES:
        path = next(group(root, f"series-{side}").iter(f"{SVG}path"))
        style = dict(part.split(":", 1) for part in path.attrib["style"].replace(" ", "").split(";") if part)
        styles.append((style["stroke"], style.get("stroke-dasharray", "solid")))
    assert len({colour for colour, _ in styles}) == 3 and len({dash for _, dash in styles}) == 3
    legend = group(root, "legend_1")  # the legend's samples are lines drawn like the series
    samples = [p.attrib["style"] for p in legend.iter(f"{SVG}path") if "stroke:" in p.attrib.get("style", "")]
    for colour, _ in styles:
        assert any(colour in s for s in samples)


def test_the_map_draws_state_outlines_under_the_points(page: str) -> None:
    root = charts(page)["ship-to-map"]
    outlines = [g for g in root.iter(f"{SVG}g") if re.search(r"-us-states-\d$", g.attrib.get("id", ""))]
    assert len(outlines) == 2  # one per side's map
    assert all(len(list(g.iter(f"{SVG}path"))) >= 49 for g in outlines)  # 48 states and DC at least
    assert "DC-A" in texts(root)  # the DC is labelled
    legend = texts(group(root, "legend_1"))
    assert "DC-A" in legend and "a DC" in legend


def test_the_deltas_are_labelled(page: str) -> None:
    row = re.search(r"<tr><td>fill rate</td>(.*?)</tr>", page)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[-2].endswith(" pts")  # the change in percentage points
    assert cells[-1].endswith("%")  # the relative change
    assert "relative change" in page and "percentage points (pts)" in page


def test_the_gate_lines_say_what_was_measured_and_what_is_allowed(page: str) -> None:
    assert "pass: cost_per_order change " in page and "(limit: at most +50%; --fail-if &#x27;" in page
    assert "FAIL: fill_rate change -" in page and "(limit: at least 0;" in page
