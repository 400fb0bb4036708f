"""Derive us-states.geojson (the report map's state outlines) from the Census Bureau's file.

Input: cb_2018_us_state_20m (Cartographic Boundary File, States, 1:20,000,000; public domain)
as GeoJSON (``ogr2ogr -f GeoJSON cb_2018_us_state_20m.json cb_2018_us_state_20m.shp``).
Kept: the 48 contiguous states and DC, name and postal code; each ring simplified
(Douglas-Peucker, 0.03 degrees: a third of a pixel on the report's map), rounded to 3
decimals, and rings smaller than 0.005 square degrees (small islands) dropped.

    python -m server.simulation.data.simplify_states cb_2018_us_state_20m.json server/simulation/data/us-states.geojson
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOLERANCE = 0.03
MIN_AREA = 0.005
NOT_DRAWN = {"AK", "HI", "PR"}  # the map shows the contiguous states

Point = tuple[float, float]


def _distance(p: Point, a: Point, b: Point) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return float(((x - x1) ** 2 + (y - y1) ** 2) ** 0.5)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return float(((x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2) ** 0.5)


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, iterative (rings have thousands of points)."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, index = 0.0, -1
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > worst:
                worst, index = d, i
        if worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _area(ring: list[Point]) -> float:
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))) / 2


def _polygons(geometry: dict[str, Any]) -> list[list[list[Point]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def derive(source: dict[str, Any]) -> dict[str, Any]:
    features = []
    for feature in sorted(source["features"], key=lambda f: f["properties"]["STUSPS"]):
        code = feature["properties"]["STUSPS"]
        if code in NOT_DRAWN:
            continue
        polygons = []
        for polygon in _polygons(feature["geometry"]):
            rings = []
            for ring in polygon:
                points = [(round(x, 3), round(y, 3)) for x, y in simplify([(p[0], p[1]) for p in ring], TOLERANCE)]
                if len(points) >= 4 and _area(points) >= MIN_AREA:
                    rings.append([list(p) for p in points])
            if rings:
                polygons.append(rings)
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": feature["properties"]["NAME"]},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    return {
        "type": "FeatureCollection",
        "source": "US Census Bureau, 2018 Cartographic Boundary File, States, 1:20,000,000 "
        "(cb_2018_us_state_20m), public domain; simplified (server/simulation/data/simplify_states.py)",
        "features": features,
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        derived = derive(json.load(handle))
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(derived, handle, separators=(",", ":"))
        handle.write("\n")
