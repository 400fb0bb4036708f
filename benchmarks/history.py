"""Seeded order histories (docs/order-history.md) for a network, to try the simulator on.

``python -m benchmarks.history --network FILE --orders N --out FILE [--legacy-out FILE]`` writes
one, and a stand-in legacy system's decisions for it (benchmarks/legacy.py). It lives here, not in
the product: a retailer replays its own history; synthetic orders are for trying and testing.

- Time: orders spread over ``days`` from ``start`` by a day weight (weekday pattern x a seasonal
  ramp toward the holidays x Thanksgiving, Black Friday and Cyber Monday peaks when they fall in
  the window) and an hour-of-day curve (quiet nights, a lunchtime and an evening peak).
- Ship-to: real mainland US cities by population, jittered (benchmarks/orders.py).
- Baskets: 1 line mostly, a long tail up to 7; SKUs by Zipf popularity with velocity classes
  first; quantities 1 mostly (benchmarks/orders.py).
- Channels WEB, APP, MARKETPLACE, STORE (endless aisle), CALL_CENTER; about 1 in 8 web, app or
  store orders is a pickup at the nearest pickup store within 30 miles; 12% are EXPRESS.
- Customers: repeat buyers from a pool, some GOLD or SILVER; prices per SKU by category;
  a fraud score per order (1% high); drop-ship-only SKUs name their vendor on the line.

Everything random comes from ``random.Random(seed)`` drawn in a fixed order: same arguments,
same history, byte for byte.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from benchmarks.legacy import legacy_decisions
from benchmarks.networks.sample_network import miles_between, us_cities
from benchmarks.orders import draw_distinct, draw_qty, jittered_point, sku_popularity
from engine.model import DeliveryMethod, Item, Node, NodeType, Order, OrderLine
from engine.simulation.history import HistoryOrder
from server.network_file import NetworkFile, NetworkFileError
from server.simulation.files import load_network, write_history

DEFAULT_START = date(2026, 11, 1)
_WEEKDAY = (1.10, 1.00, 1.00, 1.00, 0.95, 0.85, 1.05)  # Monday first
_HOURS = (0.2, 0.1, 0.08, 0.06, 0.06, 0.1, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3,
          1.4, 1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.6, 1.7, 1.5, 1.0, 0.5)  # fmt: skip
_CHANNELS = (("WEB", 0.55), ("APP", 0.25), ("MARKETPLACE", 0.12), ("STORE", 0.05), ("CALL_CENTER", 0.03))
_PICKUP_CHANNELS = frozenset({"WEB", "APP", "STORE"})
_PICKUP_SHARE = 0.125
_PICKUP_RADIUS_MILES = 30.0
_EXPRESS_SHARE = 0.12
_LINES_CUM = tuple(itertools.accumulate((0.52, 0.24, 0.12, 0.06, 0.03, 0.02, 0.01)))
_PRICE_MEDIAN = {
    "apparel": 35.0, "accessories": 45.0, "beauty": 28.0, "electronics": 140.0, "home": 55.0, "toys": 30.0,
    "sports": 65.0, "garden": 80.0, "household": 15.0, "furniture": 420.0,
}  # fmt: skip
_TIERS = (("GOLD", 0.06), ("SILVER", 0.18), ("", 0.76))
_PROMISED_DAYS = (3, 4, 5, 6, 7)  # a promised date this many days after the order's
_PROMISED_WEIGHTS = (0.15, 0.25, 0.3, 0.2, 0.1)


def thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def day_weight(day: date, index: int, days: int) -> float:
    """Relative order volume of ``day``, the ``index``-th of ``days``."""
    weight = _WEEKDAY[day.weekday()] * (1.0 + 0.4 * index / max(1, days - 1))
    tg = thanksgiving(day.year)
    peaks = {tg: 1.4, tg + timedelta(days=1): 3.0, tg + timedelta(days=2): 1.8, tg + timedelta(days=4): 3.4}
    return weight * peaks.get(day, 1.0)


def make_history(
    network: NetworkFile,
    n_orders: int,
    days: int,
    seed: int,
    start: date = DEFAULT_START,
    promised_share: float = 0.0,
) -> list[HistoryOrder]:
    """``promised_share``: the share of standard shipped orders carrying a promised date, 3-7 days
    after the order's (UTC) date, drawn from a generator of their own (the rest of the history is
    the same with or without them)."""
    if n_orders < 0 or days < 1:
        raise ValueError("need n_orders >= 0 and days >= 1")
    rng = random.Random(seed)
    promises = random.Random(f"promise-{seed}")
    dates = [start + timedelta(days=i) for i in range(days)]
    day_cum = tuple(itertools.accumulate(day_weight(d, i, days) for i, d in enumerate(dates)))
    hour_cum = tuple(itertools.accumulate(_HOURS))
    times = sorted(_draw_time(rng, dates, day_cum, hour_cum) for _ in range(n_orders))
    items = sorted(network.items, key=lambda item: item.sku)
    popularity = sku_popularity(items, rng.randrange(2**32))
    prices = _prices(random.Random(rng.randrange(2**32)), items)
    vendors = _vendor_only_skus(network)
    stores = [n for n in network.nodes if n.type is NodeType.STORE and n.can_pickup and n.is_open]
    cities = us_cities()
    city_cum = tuple(itertools.accumulate(float(c.population) for c in cities))
    customers = max(1, n_orders // 3)
    tiers = [_pick(rng, _TIERS) for _ in range(customers)]
    out = []
    for i, created_at in enumerate(times, 1):
        city = rng.choices(cities, cum_weights=city_cum)[0]
        ship_to = jittered_point(rng, city.lat, city.lon, 5.0)
        channel = _pick(rng, _CHANNELS)
        wants_pickup = channel in _PICKUP_CHANNELS and rng.random() < _PICKUP_SHARE
        pickup = _pickup_store(stores, ship_to.lat, ship_to.lon) if wants_pickup else None
        express = rng.random() < _EXPRESS_SHARE and pickup is None
        n_lines = min(len(items), bisect.bisect_right(_LINES_CUM, rng.random() * _LINES_CUM[-1]) + 1)
        customer = rng.randrange(customers)
        fraud = rng.randint(80, 99) if rng.random() < 0.01 else rng.randint(1, 60)
        lines = tuple(
            _line(j, item, draw_qty(rng), prices[item.sku], vendors.get(item.sku))
            for j, item in enumerate(draw_distinct(rng, popularity, n_lines), 1)
        )
        attributes = {
            "customer_id": f"C{customer:07d}",
            "ship_to_country": "US",
            "ship_to_region": f"US-{city.state}",
            "currency": "USD",
            "fraud_score": str(fraud),
        }
        if tiers[customer]:
            attributes["customer_tier"] = tiers[customer]
        order = Order(
            order_id=f"{channel[:3]}-{i:07d}",
            ship_to=ship_to,
            lines=lines,
            channel=channel,
            service_level="EXPRESS" if express else "STANDARD",
            delivery_method=DeliveryMethod.PICKUP if pickup else DeliveryMethod.SHIP,
            pickup_node_id=pickup.id if pickup else "",
            attributes=attributes,
        )
        promised = promises.random() < promised_share
        days_out = promises.choices(_PROMISED_DAYS, weights=_PROMISED_WEIGHTS)[0]
        if promised and not express and pickup is None:
            order = replace(order, promised_date=created_at.date() + timedelta(days=days_out))
        out.append(HistoryOrder(created_at, order))
    return out


def _draw_time(
    rng: random.Random, dates: Sequence[date], day_cum: Sequence[float], hour_cum: Sequence[float]
) -> datetime:
    day = rng.choices(dates, cum_weights=day_cum)[0]
    hour = rng.choices(range(24), cum_weights=hour_cum)[0]
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(seconds=rng.randrange(3600))


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _prices(rng: random.Random, items: Sequence[Item]) -> dict[str, float]:
    return {
        item.sku: round(
            max(2.0, _PRICE_MEDIAN.get(item.attributes.get("category", ""), 40.0) * math.exp(rng.gauss(0, 0.5))), 2
        )
        for item in items
    }


def _vendor_only_skus(network: NetworkFile) -> dict[str, str]:
    """SKUs that only drop-ship vendors stock -> the first such vendor."""
    types = {n.id: n.type for n in network.nodes}
    holders: dict[str, list[str]] = {}
    for u in network.inventory:
        if u.quantity > 0:
            holders.setdefault(u.sku, []).append(u.node_id)
    return {
        sku: sorted(nodes)[0]
        for sku, nodes in holders.items()
        if all(types.get(n) is NodeType.DROP_SHIP for n in nodes)
    }


def _pickup_store(stores: Sequence[Node], lat: float, lon: float) -> Node | None:
    best = min(stores, key=lambda n: miles_between(lat, lon, n.location.lat, n.location.lon), default=None)
    if best is None or miles_between(lat, lon, best.location.lat, best.location.lon) > _PICKUP_RADIUS_MILES:
        return None
    return best


def _line(j: int, item: Item, qty: int, price: float, vendor: str | None) -> OrderLine:
    attributes = {"unit_price": f"{price:.2f}"}
    if vendor:
        attributes["vendor_node_id"] = vendor
    return OrderLine(f"L{j}", item.sku, qty, item.unit_weight_lb, item.hazmat, attributes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.history",
        description="Write a seeded order history (docs/order-history.md) for `oms-sourcing simulate run`.",
    )
    parser.add_argument("--network", required=True, metavar="FILE", help="network file the orders are for")
    parser.add_argument("--orders", type=int, required=True, metavar="N")
    parser.add_argument("--days", type=int, default=30, metavar="D", help="days the orders spread over (default 30)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1), metavar="YYYY-MM-DD",
                        help="first day (default 2026-11-01)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--out", required=True, metavar="FILE", help="JSON Lines file to write")
    parser.add_argument("--legacy-out", metavar="FILE",
                        help="also write a stand-in legacy system's decisions (greedy router)")  # fmt: skip
    parser.add_argument("--restock-every-days", type=int, metavar="N",
                        help="the stand-in legacy system restocks every N days")  # fmt: skip
    parser.add_argument("--promised-share", type=float, default=0.0, metavar="P",
                        help="share of standard shipped orders promised 3-7 days out (default 0)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.orders < 0 or args.days < 1:
        parser.error("--orders must be >= 0 and --days >= 1")
    if not 0.0 <= args.promised_share <= 1.0:
        parser.error("--promised-share must be between 0 and 1")
    try:
        network = load_network(args.network)
    except (NetworkFileError, OSError) as error:
        parser.error(f"--network: {error}")
    history = make_history(network.file, args.orders, args.days, args.seed, args.start, args.promised_share)
    count = write_history(args.out, history)
    print(f"wrote {count:,} orders over {args.days} days to {args.out}")
    if args.legacy_out:
        records = legacy_decisions(history, network.snapshot, network.fresh_stock(), args.restock_every_days)
        with open(args.legacy_out, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        print(f"wrote {len(records):,} legacy decisions to {args.legacy_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
