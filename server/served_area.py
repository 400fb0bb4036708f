"""Where the network ships to: new orders with a ship-to elsewhere are refused.

Carriers and delivery promises are not modelled yet: every ship-to is costed by distance zones
from the nearest nodes, so Honolulu, Anchorage or London would come back as a zone-8 ground
parcel from the West Coast, a price and a promise no carrier offers. Until they are, the
service accepts ship-tos only in the regions a deployment serves (``served_regions``):

- a ship-to given as a US ZIP code is placed by the state the packaged ZIP table gives it;
- one given as coordinates is placed by coarse outlines drawn around each region, generous by
  a few miles along coasts and land borders (tests/server/test_served_area.py checks every ZIP centroid
  of the table against them), so a point just across the Canadian or Mexican border (Windsor,
  Tijuana) counts as inside, while the rest of the world (Vancouver, Toronto, Monterrey, Havana,
  London) is outside. A point test on at most a few dozen vertices: microseconds.

Only new orders are checked (Source, Allocate, AllocateBatch); an order already stored is never
refused for it later (docs/configuration.md, ``served_regions``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Polygon = tuple[tuple[float, float], ...]  # (lon, lat) vertices; the last joins the first

ANYWHERE = "ANY"
CONTIGUOUS_STATES = frozenset(
    {
        "AL", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
        "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
        "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    }
)  # fmt: skip

# The lower 48 and DC: down the Pacific coast, east along the Mexican border and the Rio Grande,
# round the Gulf (south of the Keys, north of Cuba) and up the Atlantic (west of the Bahamas),
# then west along the Canadian border through the Great Lakes and the 49th parallel (north of
# the Northwest Angle, south of Vancouver and Victoria).
_CONTIGUOUS: Polygon = (
    (-125.0, 48.6), (-125.0, 40.0), (-123.5, 37.0), (-121.5, 34.0), (-120.5, 33.0), (-118.0, 32.3),
    (-117.2, 32.5), (-114.72, 32.7), (-114.82, 32.45), (-111.07, 31.325), (-108.25, 31.325),
    (-108.25, 31.73), (-106.62, 31.78), (-106.52, 31.745), (-106.44, 31.74), (-106.36, 31.7),
    (-106.3, 31.62), (-106.27, 31.52), (-106.15, 31.42), (-105.0, 30.55), (-104.45, 29.45),
    (-103.7, 28.95), (-103.0, 28.9), (-102.4, 29.65), (-101.4, 29.7), (-101.0, 29.4), (-100.93, 29.335),
    (-100.8, 29.25), (-100.65, 28.9), (-100.53, 28.75), (-100.5, 28.68), (-100.35, 28.45), (-100.2, 28.0),
    (-99.62, 27.6), (-99.53, 27.495), (-99.49, 27.49), (-99.47, 27.37), (-99.45, 26.85), (-99.3, 26.5),
    (-99.0, 26.3), (-98.6, 26.22), (-98.35, 26.12), (-98.27, 26.09), (-98.2, 26.05), (-98.0, 26.03),
    (-97.56, 25.92), (-97.49, 25.888), (-97.4, 25.86), (-96.9, 25.8), (-96.6, 28.0),
    (-94.0, 28.8), (-91.0, 28.8), (-89.0, 28.6), (-85.0, 28.7), (-83.5, 27.5), (-82.3, 25.5),
    (-82.1, 24.4), (-80.3, 24.6), (-79.9, 25.3), (-79.85, 27.0), (-80.0, 28.5), (-80.3, 31.5),
    (-79.6, 32.5), (-77.5, 33.5), (-76.0, 34.5), (-75.2, 35.1), (-74.6, 38.8), (-73.7, 40.3),
    (-71.8, 40.9), (-69.8, 41.1), (-69.7, 41.9), (-70.0, 42.9), (-68.5, 43.6), (-67.5, 44.1),
    (-66.8, 44.7), (-67.2, 45.6), (-67.7, 45.7), (-67.7, 47.1), (-68.2, 47.4), (-69.3, 47.55),
    (-70.1, 46.5), (-70.9, 45.4), (-71.5, 45.1), (-74.7, 45.1), (-75.4, 44.85), (-76.4, 44.3),
    (-76.9, 43.6), (-79.1, 43.45), (-79.05, 42.95), (-80.5, 42.35), (-82.4, 41.75), (-83.1, 42.0),
    (-83.12, 42.2), (-83.09, 42.285), (-83.03, 42.318), (-82.95, 42.34), (-82.8, 42.4), (-82.5, 42.6),
    (-82.35, 43.0), (-82.1, 43.6), (-82.45, 45.3), (-83.4, 46.1),
    (-84.1, 46.55), (-84.6, 46.6), (-85.5, 47.2), (-88.3, 48.3), (-89.5, 48.0), (-90.8, 48.2),
    (-92.0, 48.4), (-93.0, 48.65), (-94.6, 48.75), (-94.8, 49.45), (-95.3, 49.45), (-95.15, 49.05),
    (-123.2, 49.05), (-123.25, 48.75), (-123.25, 48.35), (-124.0, 48.35), (-124.6, 48.45),
)  # fmt: skip
# Alaska: the Yukon border on the 141st meridian, the panhandle east of its coast, the Aleutians
# to the antimeridian and beyond it, the Bering Strait east of Chukotka.
_ALASKA: tuple[Polygon, ...] = (
    (
        (-141.0, 70.3), (-141.0, 60.3), (-139.0, 60.35), (-137.5, 59.2), (-135.5, 59.8), (-133.5, 58.5),
        (-132.0, 57.0), (-130.0, 56.1), (-129.9, 55.9), (-130.0, 55.0), (-130.6, 54.6), (-133.5, 54.4),
        (-137.0, 57.5), (-140.5, 59.3), (-144.0, 59.0), (-150.0, 56.5), (-160.0, 54.5), (-170.0, 52.3),
        (-180.0, 51.0), (-180.0, 53.5), (-172.8, 56.0), (-172.8, 64.2), (-169.0, 65.6), (-169.0, 66.5),
        (-168.5, 69.5), (-156.0, 71.8),
    ),
    ((172.0, 51.5), (180.0, 51.0), (180.0, 53.5), (172.0, 53.5)),
)  # fmt: skip
_HAWAII: Polygon = ((-160.6, 18.7), (-154.5, 18.7), (-154.5, 22.5), (-160.6, 22.5))
_PUERTO_RICO: Polygon = ((-67.5, 17.5), (-64.3, 17.5), (-64.3, 18.7), (-67.5, 18.7))  # and the US Virgin Islands

# Region code -> its outlines, and the postal states in it.
REGIONS: dict[str, tuple[tuple[Polygon, ...], frozenset[str]]] = {
    "US-CONTIGUOUS": ((_CONTIGUOUS,), CONTIGUOUS_STATES),
    "US-AK": (_ALASKA, frozenset({"AK"})),
    "US-HI": ((_HAWAII,), frozenset({"HI"})),
    "US-PR": ((_PUERTO_RICO,), frozenset({"PR", "VI"})),
}
DEFAULT_SERVED_REGIONS = "US-CONTIGUOUS"


def _inside(polygon: Polygon, lon: float, lat: float) -> bool:
    """Even-odd rule: does a ray east from the point cross the outline an odd number of times?"""
    inside = False
    x0, y0 = polygon[-1]
    for x1, y1 in polygon:
        if (y1 > lat) != (y0 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
        x0, y0 = x1, y1
    return inside


Edge = tuple[float, float, float, float]  # (x0, y0, x1, y1): a side of an outline, in order


def _bands(polygon: Polygon) -> dict[int, tuple[Edge, ...]]:
    """The outline's sides by the whole degrees of latitude they span: a side the ray from a
    point at latitude ``lat`` can cross lies in band ``floor(lat)``, so ``_inside_banded`` tests a
    handful of sides instead of every one (same sides, same order, same arithmetic: same answer)."""
    bands: dict[int, list[Edge]] = {}
    x0, y0 = polygon[-1]
    for x1, y1 in polygon:
        for band in range(math.floor(min(y0, y1)), math.floor(max(y0, y1)) + 1):
            bands.setdefault(band, []).append((x0, y0, x1, y1))
        x0, y0 = x1, y1
    return {band: tuple(edges) for band, edges in bands.items()}


def _inside_banded(bands: dict[int, tuple[Edge, ...]], lon: float, lat: float) -> bool:
    """``_inside`` over the sides of the point's band."""
    inside = False
    for x0, y0, x1, y1 in bands.get(math.floor(lat), ()):
        if (y1 > lat) != (y0 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _bounds(polygons: tuple[Polygon, ...]) -> tuple[float, float, float, float]:
    lons = [x for polygon in polygons for x, _ in polygon]
    lats = [y for polygon in polygons for _, y in polygon]
    return min(lons), min(lats), max(lons), max(lats)


_BOUNDS = {code: _bounds(polygons) for code, (polygons, _) in REGIONS.items()}
# Per region: its bounding box and its outlines' sides by band (checked against ``_inside`` by
# tests/server/test_served_area.py). A new order's point is placed on every Source call.
_BANDED = tuple((code, _BOUNDS[code], tuple(_bands(p) for p in polygons)) for code, (polygons, _) in REGIONS.items())


def region_of_point(lat: float, lon: float) -> str | None:
    """The region whose outline holds the point, or None."""
    for code, (west, south, east, north), outlines in _BANDED:
        if west <= lon <= east and south <= lat <= north and any(_inside_banded(b, lon, lat) for b in outlines):
            return code
    return None


def region_of_state(state: str) -> str | None:
    """The region of a US state or territory code from the ZIP table (None: none of them)."""
    return next((code for code, (_, states) in REGIONS.items() if state in states), None)


@dataclass(frozen=True)
class ServedArea:
    """The regions new orders may ship to; ``regions`` empty means anywhere."""

    regions: frozenset[str]

    @classmethod
    def parse(cls, setting: str) -> ServedArea:
        """From ``served_regions``: region codes, comma-separated, or ANY. ValueError when wrong."""
        codes = [code.strip().upper() for code in setting.split(",") if code.strip()]
        if codes == [ANYWHERE]:
            return cls(frozenset())
        unknown = [code for code in codes if code not in REGIONS]
        if unknown or not codes:
            raise ValueError(f"must be {ANYWHERE} or region codes from {', '.join(REGIONS)}, comma-separated")
        return cls(frozenset(codes))

    @property
    def anywhere(self) -> bool:
        return not self.regions

    def covers_point(self, lat: float, lon: float) -> bool:
        return self.anywhere or region_of_point(lat, lon) in self.regions

    def covers_state(self, state: str) -> bool:
        return self.anywhere or region_of_state(state) in self.regions

    def describe(self) -> str:
        return ", ".join(sorted(self.regions)) or ANYWHERE


SERVED_ANYWHERE = ServedArea(frozenset())
