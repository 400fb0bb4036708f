"""A public family of hard single orders: 20-30 lines, twin nodes, SKUs stocked thinly at many
nodes, bulky items. Instances in the reference format (tests/data/sourcing-optimal.jsonl: nodes,
inventory, order, penalties), generated from a seed, then proven optimal offline by an independent
solver (benchmarks/prove_hard_orders.py, HiGHS) and stored with their optima in
``benchmarks/data/hard-orders.jsonl.gz`` so that the benchmark never proves them again.

What makes them hard for a solver, and for our search:

- **twins**: nodes in groups of 2-4 at one site (a campus of buildings, stores in one mall) with
  the same pick-pack and handling costs and the same stock: every plan using one has equal-cost
  copies using another, so a search that does not know it visits each plan once per permutation.
- **thin stock at many nodes**: each SKU at 30-80% of the nodes, 1-2 units each, lines asking for
  1-4 units: no node covers much of the order, splits are the rule, and many node sets cost
  nearly the same.
- **bulky**: some lines weigh 15-70 lb each, so the per-pound zone rate dominates and nearer
  nodes pay for an extra shipment.

Families: ``twins`` (twin groups, light items), ``spread`` (no twins, SKUs at up to 80% of nodes),
``bulky`` (twins and heavy lines), ``mixed`` (everything, larger networks). Everything random comes
from one ``random.Random`` seeded by (family, seed): the same arguments give the same instance.

    .venv/bin/python -m benchmarks.hard_orders --per-family 30 --out /tmp/hard-candidates.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "hard-orders.jsonl.gz"


@dataclass(frozen=True)
class Family:
    name: str
    nodes: tuple[int, int]  # network size range
    twin_share: float  # share of sites that are a twin group
    twin_size: tuple[int, int]
    stocked_share: tuple[float, float]  # share of nodes holding each ordered SKU
    units: tuple[int, ...]  # units per stocked (SKU, node), drawn uniformly
    bulky_share: float  # share of lines that are bulky
    radius_miles: float  # network spread around its centre


FAMILIES = {
    f.name: f
    for f in (
        Family("twins", (30, 80), 0.5, (2, 4), (0.2, 0.5), (1, 2, 2, 3), 0.0, 450.0),
        Family("spread", (40, 120), 0.0, (1, 1), (0.3, 0.7), (1, 2, 2, 3), 0.1, 600.0),
        Family("bulky", (30, 80), 0.4, (2, 3), (0.2, 0.5), (1, 2, 2, 3), 0.35, 450.0),
        Family("mixed", (80, 200), 0.35, (2, 4), (0.2, 0.6), (1, 2, 2, 3, 4), 0.2, 700.0),
    )
}

LIGHT_WEIGHTS = (0.2, 0.5, 1.0, 2.5, 6.0)
BULKY_WEIGHTS = (15.0, 25.0, 40.0, 70.0)
QTY = (1, 1, 1, 2, 2, 3, 4)
SPLIT_PENALTIES = (0.0, 3.0, 3.0, 10.0)
# (pick-pack range, handling range) per node type; costs on a 5-cent grid, so equal costs are common.
COSTS = {"dc": ((1.0, 1.6), (0.25, 0.35)), "3pl": ((1.6, 2.4), (0.30, 0.45)), "store": ((3.4, 4.6), (0.55, 0.95))}
TYPES = ("dc", "3pl", "store", "store", "store")
# Regional centres (lat, lon): the networks sit where US fulfilment networks do.
CENTRES = ((40.0, -83.0), (34.0, -97.0), (39.5, -77.5), (41.8, -88.0), (33.8, -84.4), (36.1, -115.2))
EARTH_RADIUS_MILES = 3958.8


def _grid(rng: random.Random, low: float, high: float, step: float = 0.05) -> float:
    return round(round(rng.uniform(low, high) / step) * step, 2)


def _offset(lat: float, lon: float, miles: float, bearing: float) -> tuple[float, float]:
    """The point ``miles`` from (lat, lon) along ``bearing`` (radians), on a sphere."""
    d = miles / EARTH_RADIUS_MILES
    phi, lam = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(phi), math.cos(d) - math.sin(phi) * math.sin(phi2)
    )
    return round(math.degrees(phi2), 5), round(math.degrees(lam2), 5)


def make_instance(family: Family, seed: int) -> dict[str, Any]:
    """One instance (the reference format, without ``optimal_cost``) of ``family``."""
    rng = random.Random(f"{family.name}-{seed}")
    clat, clon = rng.choice(CENTRES)
    n_target = rng.randint(*family.nodes)
    n_lines = rng.randint(20, 30)
    skus = [f"S{k:03d}" for k in range(n_lines)]
    nodes: list[dict[str, Any]] = []
    stock: list[dict[str, int]] = []  # per node: sku -> units
    while len(nodes) < n_target:
        kind = rng.choice(TYPES)
        (pp_low, pp_high), (uc_low, uc_high) = COSTS[kind]
        pick_pack, unit = _grid(rng, pp_low, pp_high), _grid(rng, uc_low, uc_high)
        lat, lon = _offset(clat, clon, family.radius_miles * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi))
        held: dict[str, int] = {}
        for sku in skus:
            if rng.random() < rng.uniform(*family.stocked_share):
                held[sku] = rng.choice(family.units)
        copies = rng.randint(*family.twin_size) if rng.random() < family.twin_share else 1
        for c in range(min(copies, n_target - len(nodes))):
            # A twin stands at the same site, a mile or two away: same zone for almost every ship-to.
            here = (lat, lon) if c == 0 else _offset(lat, lon, rng.uniform(0.2, 2.0), rng.uniform(0, 2 * math.pi))
            nodes.append(
                {
                    "id": f"H{seed}-{len(nodes):04d}",
                    "type": kind,
                    "lat": here[0],
                    "lon": here[1],
                    "pick_pack_cost": pick_pack,
                    "unit_cost": unit,
                }
            )
            stock.append(dict(held))
    inventory = [
        {"node": node["id"], "sku": sku, "available": units}
        for node, held in zip(nodes, stock, strict=True)
        for sku, units in sorted(held.items())
    ]
    slat, slon = _offset(clat, clon, family.radius_miles * 0.8 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi))
    lines = []
    for i, sku in enumerate(skus):
        bulky = rng.random() < family.bulky_share
        weight = rng.choice(BULKY_WEIGHTS if bulky else LIGHT_WEIGHTS)
        lines.append({"line_id": f"L{i:02d}", "sku": sku, "qty": rng.choice(QTY), "unit_weight_lb": weight})
    return {
        "seed": seed,
        "kind": family.name,
        "nodes": nodes,
        "inventory": inventory,
        "order": {"order_id": f"{family.name}-{seed}", "ship_to": {"lat": slat, "lon": slon}, "lines": lines},
        "split_penalty": rng.choice(SPLIT_PENALTIES),
        "backorder_penalty": 100.0,
    }


def generate(families: Sequence[str], seeds: Sequence[int]) -> Iterator[dict[str, Any]]:
    for name in families:
        for seed in seeds:
            yield make_instance(FAMILIES[name], seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hard_orders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--per-family", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True, help="a .jsonl file of unproven instances")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.per_family)
    with args.out.open("w") as out:
        for doc in generate(args.families.split(","), seeds):
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
