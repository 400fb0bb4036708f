"""Seeded benchmark orders: real US ship-to points, long-tailed SKU popularity, small quantities.

- Ship-to: a real mainland US city drawn with probability proportional to its population,
  moved up to ``jitter_miles`` from the centre (uniform over the disc): where people live.
- SKUs: Zipf-like popularity (weight ``1 / rank**zipf_s``). Ranks follow the catalogue's
  ``velocity`` attribute when items carry one (A movers are the popular ones, as in the sample
  networks, whose stock depth follows velocity), shuffled within a class; without it, a
  seeded shuffle of the whole catalogue.
- Lines: ``n_lines`` distinct SKUs per order; quantity 1 mostly, sometimes 2 or 3.
- Weights: each line's unit weight is its item's.

Everything random comes from one ``random.Random(seed)`` drawn in a fixed order: the same
arguments always give the same orders.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.networks.sample_network import City, us_cities
from engine.model import GeoPoint, Item, Order, OrderLine

DEFAULT_ZIPF_S = 1.0
DEFAULT_JITTER_MILES = 5.0
# P(qty = 1), P(qty = 2), P(qty = 3): most e-commerce lines are single units.
QTY_WEIGHTS: tuple[float, float, float] = (0.82, 0.13, 0.05)
_VELOCITY_RANK = {"A": 0, "B": 1, "C": 2}


@dataclass(frozen=True, slots=True)
class SkuPopularity:
    """Items ranked most popular first, with cumulative Zipf weights for ``random.choices``."""

    items: tuple[Item, ...]
    cum_weights: tuple[float, ...]


def sku_popularity(items: Sequence[Item], seed: int, zipf_s: float = DEFAULT_ZIPF_S) -> SkuPopularity:
    """Rank ``items`` (velocity class first when known, seeded shuffle within) and weight rank r by 1/r**s."""
    if not items:
        raise ValueError("a catalogue needs at least one item")
    if zipf_s < 0 or not math.isfinite(zipf_s):
        raise ValueError("zipf_s must be a finite number >= 0")
    rng = random.Random(seed)
    shuffled = sorted(items, key=lambda item: item.sku)  # independent of the caller's order
    rng.shuffle(shuffled)
    ranked = sorted(shuffled, key=lambda item: _VELOCITY_RANK.get(item.attributes.get("velocity", ""), 1))
    weights = [1.0 / (rank**zipf_s) for rank in range(1, len(ranked) + 1)]
    return SkuPopularity(tuple(ranked), tuple(itertools.accumulate(weights)))


def _city_weights(cities: Sequence[City]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(float(c.population) for c in cities))


def jittered_point(rng: random.Random, lat: float, lon: float, max_miles: float) -> GeoPoint:
    """A point within ``max_miles`` of (lat, lon), uniform over the disc."""
    distance, bearing = max_miles * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
    new_lat = lat + distance * math.cos(bearing) / 69.0
    new_lon = lon + distance * math.sin(bearing) / (69.0 * math.cos(math.radians(lat)))
    return GeoPoint(round(max(-90.0, min(90.0, new_lat)), 5), round(max(-180.0, min(180.0, new_lon)), 5))


def draw_qty(rng: random.Random) -> int:
    u = rng.random()
    acc = 0.0
    for qty, p in enumerate(QTY_WEIGHTS, 1):
        acc += p
        if u < acc:
            return qty
    return len(QTY_WEIGHTS)


def draw_distinct(rng: random.Random, popularity: SkuPopularity, count: int) -> list[Item]:
    """``count`` distinct items by popularity (weighted sampling without replacement, by rejection)."""
    n = len(popularity.items)
    if not 1 <= count <= n:
        raise ValueError(f"cannot draw {count} distinct SKUs from a catalogue of {n}")
    total = popularity.cum_weights[-1]
    chosen: dict[int, None] = {}
    while len(chosen) < count:
        k = bisect.bisect_right(popularity.cum_weights, rng.random() * total)
        chosen.setdefault(min(k, n - 1), None)
    return [popularity.items[k] for k in chosen]


def make_orders(
    items: Sequence[Item],
    n_orders: int,
    n_lines: int,
    seed: int,
    *,
    zipf_s: float = DEFAULT_ZIPF_S,
    jitter_miles: float = DEFAULT_JITTER_MILES,
    cities: Sequence[City] | None = None,
    prefix: str = "BENCH",
) -> tuple[Order, ...]:
    """``n_orders`` ship orders of ``n_lines`` distinct SKUs each, from ``items`` (the network's catalogue)."""
    if n_orders < 0:
        raise ValueError("n_orders must be >= 0")
    places = tuple(cities) if cities is not None else us_cities()
    if not places:
        raise ValueError("no cities to ship to")
    rng = random.Random(seed)
    popularity = sku_popularity(items, rng.randrange(2**32), zipf_s)
    city_cum = _city_weights(places)
    orders = []
    for i in range(n_orders):
        city = rng.choices(places, cum_weights=city_cum)[0]
        ship_to = jittered_point(rng, city.lat, city.lon, jitter_miles)
        lines = tuple(
            OrderLine(
                line_id=f"L{j}",
                sku=item.sku,
                qty=draw_qty(rng),
                unit_weight_lb=item.unit_weight_lb,
                hazmat=item.hazmat,
            )
            for j, item in enumerate(draw_distinct(rng, popularity, n_lines), 1)
        )
        orders.append(Order(order_id=f"{prefix}-{n_lines}L-{i:05d}", ship_to=ship_to, lines=lines))
    return tuple(orders)
