"""The problem build of 30-line orders over 2,000 nodes with a promised date, against the same
orders without one, in instructions (callgrind; docs/profiling.md, "Large orders end to end").

The build is where a promise order's own CPU went (which nodes are late, each candidate's carrier
options and prices) and it has no deadline in it, so its instruction count compares exactly from
run to run and between two versions of the code; the optimizer's does not (its steps read the
clock). Phases, each over every order once after a warm-up: the order's terms (``resolve_terms``),
then terms and build (``build_problem``), without and with the promise.

    python -m benchmarks.promise_build_instructions [--orders 20]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from benchmarks.callgrind import phase_instructions, run_marked
from benchmarks.networks.sample_network import make_network
from benchmarks.promise_sourcing_bench import LARGE_LINES, LARGE_NODES, LARGE_SKUS

# A fixed instant (a Monday morning in the US) so that every run asks the same questions.
AT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
PHASES = (
    "terms, promised date",
    "terms and build, no promise",
    "terms and build, promised date",
)


def child(count: int) -> int:
    from engine.availability import Availability, StockLevels
    from engine.directives import NO_DIRECTIVES
    from engine.model import GeoPoint, Order, OrderLine
    from engine.network import NetworkSnapshot
    from engine.problem import build_problem
    from engine.promise.calculator import epoch_seconds
    from engine.terms import resolve_terms
    from server.network_file import parse_network

    parsed = parse_network(make_network(LARGE_NODES, LARGE_SKUS, seed=42))
    snapshot = NetworkSnapshot(
        parsed.nodes,
        dict(parsed.rate_tables_in_force),
        node_schedules=parsed.node_schedules,
        carrier_services=parsed.carrier_services_in_force,
    )
    items = {i.sku: i for i in parsed.items}
    stock: dict[str, list[tuple[str, int]]] = {}
    for row in parsed.inventory:
        if row.quantity > 0:
            stock.setdefault(row.sku, []).append((row.node_id, row.quantity))
    skus = sorted(stock)
    at = epoch_seconds(AT)
    rng = random.Random(11)
    cases = []
    for n in range(count):
        chosen = sorted(rng.sample(skus, LARGE_LINES))
        lines = tuple(
            OrderLine(
                str(i),
                sku,
                rng.choice([1, 1, 1, 2]),
                items[sku].unit_weight_lb,
                unit_volume_in3=items[sku].length_in * items[sku].width_in * items[sku].height_in,
            )
            for i, sku in enumerate(chosen)
        )
        order = Order(f"L{n}", GeoPoint(rng.uniform(30.0, 47.0), rng.uniform(-120.0, -75.0)), lines)
        promised = replace(order, promised_date=AT.date() + timedelta(days=rng.choice([2, 3])))
        rows = [(sku, node_id, units) for sku in chosen for node_id, units in stock[sku]]
        levels = StockLevels([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        cases.append((order, promised, Availability.from_levels(snapshot, chosen, levels)))

    def terms(i: int) -> object:
        return resolve_terms(cases[i][1], NO_DIRECTIVES, snapshot, at)

    def build(order: Order, availability: Availability) -> object:
        return build_problem(
            order, snapshot, availability, NO_DIRECTIVES, resolve_terms(order, NO_DIRECTIVES, snapshot, at)
        )

    run_marked(
        [
            terms,
            lambda i: build(cases[i][0], cases[i][2]),
            lambda i: build(cases[i][1], cases[i][2]),
        ],
        count,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.promise_build_instructions", description=__doc__)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args.child)
    totals = phase_instructions("benchmarks.promise_build_instructions", str(args.orders))
    # The first dump is start-up and warm-up; then one per phase, each over every order.
    for name, total in zip(PHASES, totals[1:], strict=False):
        print(f"{name:<34} {total / args.orders / 1e6:9.3f} M instructions per order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
