"""What delivery promises cost: one ship/delivery date, a ship board, and a 3-line cart.

On the sample network (58 nodes, carrier services GROUND, TWO_DAY and NEXT_DAY; docs/promise.md):

- ``promise``: one node, one service, one instant: ship date, order-by instant, zone, transit and
  delivery date (``PromiseCalculator.promise``); nodes, services, ship-tos and instants (spread
  over two weeks) cycled, so every cut-off, weekend and zone case comes up;
- ``ship``: the ship date and order-by instant alone;
- ``board``: every node's ship day for every service, rebuilt each time (what the first call
  after a cut-off pays);
- ``distances``: from a ship-to to every node (engine.geo, numpy, as decisions compute them, so
  a checkout that also prices has them anyway);
- ``cart dates``: a 3-line cart to a ship-to (a real ZIP centroid), distances given: the earliest
  delivery date per carrier service over the nodes holding any of its SKUs
  (``PromiseCalculator.deliveries`` from the board of the current cut-off window);
- ``cart``: the same with its distances;
- ``cart, board rebuilt``: the same with the board rebuilt first (the first cart after a cut-off);
- ``cart, no board``: the same calling ``promise`` for each node and service;
- ``cart options``: checkout's whole answer for the cart (``engine.promise.checkout.cart_options``:
  dates, plan and prices per carrier service, over the sample's stock);
- ``cart options, time rules``: the same under planner rules about time (three stores closed
  for the week, the DCs' GROUND cut-off at 12:00 all week), read as a decision reads them.

Timed in CPU time of this process (``time.process_time``), rounds interleaved, medians; with
``--callgrind`` also in instructions (valgrind's callgrind, n and 2n operations in separate
child processes, the difference divided by n; n large enough that the million or so instructions
by which two identical children differ stays under 1%), which do not move with the shared
machine's load. Also the calculator's build and first board on the sample and on a 2,000-node network.
Results: benchmarks/results/<date>-promise.{md,json}.

    .venv/bin/python -m benchmarks.promise_bench                 # about a minute
    .venv/bin/python -m benchmarks.promise_bench --callgrind     # plus ~15 minutes under valgrind
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zipcodes

from benchmarks.callgrind import child_instructions
from benchmarks.networks.sample_network import make_network
from engine.directives import Closure, CutoffChange, Directives
from engine.geo import haversine_miles
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator, ShipBoard, epoch_seconds
from engine.promise.checkout import CartLine, PromiseNetwork, Stock, cart_options
from engine.promise.model import ShipTo as Destination
from engine.promise.time_rules import TimeRules, time_rules
from server.network_file import NetworkFile, parse_network, read_network_file
from server.served_area import region_of_state

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample-network.json"
# A Tuesday morning in Chicago two weeks after the sample's as-of: no holiday near.
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
CART_LINES = 3


@dataclass(frozen=True)
class ShipTo:
    lat: float
    lon: float
    region: str


@dataclass
class Setup:
    network: NetworkFile
    calc: PromiseCalculator
    lats: np.ndarray[Any, np.dtype[np.float64]]
    lons: np.ndarray[Any, np.dtype[np.float64]]
    holders: dict[str, list[int]]  # sku -> indices (board order) of nodes with stock
    carts: list[tuple[list[int], ShipTo]]  # candidate node indices, ship-to
    cart_miles: list[list[float]]  # each cart's distances to every node
    singles: list[tuple[str, str, int, float, str]]  # node, service, instant, miles, region
    checkout: PromiseNetwork
    stock: Stock
    cart_lines: list[list[CartLine]]  # each cart's lines (one unit of each SKU)
    rules: TimeRules


def ship_tos(count: int, rng: random.Random) -> list[ShipTo]:
    """Real ZIP centroids anywhere the sample network could ship (Alaska and Hawaii included)."""
    places = []
    for z in zipcodes.list_all():  # type: ignore[no-untyped-call]
        region = region_of_state(str(z["state"]))
        if region is not None and z["lat"] and float(z["lat"]) != 0.0:
            places.append(ShipTo(float(z["lat"]), float(z["long"]), region))
    return rng.sample(places, count)


def setup(places: list[ShipTo], seed: int = 11) -> Setup:
    network = read_network_file(SAMPLE)
    calc = PromiseCalculator(network.node_schedules, network.carrier_services_in_force.values())
    board = calc.board(epoch_seconds(NOW))
    index = {node_id: i for i, node_id in enumerate(board.node_ids)}
    by_id = {n.id: n for n in network.nodes}
    lats = np.array([by_id[i].location.lat for i in board.node_ids])
    lons = np.array([by_id[i].location.lon for i in board.node_ids])
    holders: dict[str, list[int]] = {}
    for row in network.inventory:
        if row.quantity > 0:
            holders.setdefault(row.sku, []).append(index[row.node_id])
    rng = random.Random(seed)
    skus = sorted(holders)
    carts = []
    for place in places[:200]:
        chosen = rng.sample(skus, CART_LINES)
        carts.append((sorted({i for sku in chosen for i in holders[sku]}), place))
    singles = []
    start = epoch_seconds(NOW)
    offered = [
        (node_id, sid)
        for sid, days in board.ship_days.items()
        for node_id, day in zip(board.node_ids, days, strict=True)
        if day != NOT_OFFERED
    ]
    for place in places[200:]:
        node_id, service_id = rng.choice(offered)
        i = index[node_id]
        miles = float(haversine_miles(place.lat, place.lon, lats[i : i + 1], lons[i : i + 1])[0])
        singles.append((node_id, service_id, start + rng.randrange(14 * 86_400), miles, place.region))
    cart_miles = [haversine_miles(to.lat, to.lon, lats, lons).tolist() for _, to in carts]
    checkout = PromiseNetwork(network.nodes, network.node_schedules, network.carrier_services_in_force)
    stock: dict[str, dict[int, int]] = {}
    for row in network.inventory:
        if row.quantity > 0:
            stock.setdefault(row.sku, {})[checkout.index[row.node_id]] = row.quantity
    items = {item.sku: item for item in network.items}
    rng = random.Random(seed)
    cart_lines = [
        [CartLine(f"L{k}", sku, 1, items[sku].unit_weight_lb, items[sku]) for k, sku in enumerate(rng.sample(skus, 3))]
        for _ in carts
    ]
    return Setup(
        network, calc, lats, lons, holders, carts, cart_miles, singles, checkout, stock, cart_lines, peak(network)
    )


def peak(network: NetworkFile) -> TimeRules:
    """Rules about time of a peak week: three stores closed, the DCs' GROUND cut-off at 12:00."""
    week = (NOW.date().toordinal() - 1, NOW.date().toordinal() + 6)
    stores = frozenset(n.id for n in network.nodes if n.type.value == "STORE")
    dcs = frozenset(n.id for n in network.nodes if n.type.value == "DC")
    closed = Closure("remodel", frozenset(sorted(stores)[:3]), *week, "remodel")
    cutoff = CutoffChange("peak", dcs, *week, 12 * 60, frozenset({"GROUND"}))
    found = time_rules(Directives(closures=(closed,), cutoff_changes=(cutoff,)))
    assert found is not None
    return found


def earliest_deliveries(
    calc: PromiseCalculator, board: ShipBoard, nodes: list[int], miles: list[float], to: ShipTo
) -> dict[str, int]:
    """The earliest delivery day per carrier service over ``nodes`` (board indices)."""
    soonest: dict[str, int] = {}
    for service_id in board.ship_days:
        days = [day for day in calc.deliveries(board, service_id, nodes, miles, to.region) if day != NOT_OFFERED]
        if days:
            soonest[service_id] = min(days)
    return soonest


def earliest_without_board(
    calc: PromiseCalculator, board: ShipBoard, s: Setup, nodes: list[int], to: ShipTo, at: int
) -> dict[str, int]:
    miles = haversine_miles(to.lat, to.lon, s.lats, s.lons).tolist()
    soonest: dict[str, int] = {}
    for service_id in board.ship_days:
        best = 0
        for i in nodes:
            promise = calc.promise(board.node_ids[i], service_id, at, miles[i], to.region)
            if promise is not None and (not best or promise.delivery_day < best):
                best = promise.delivery_day
        if best:
            soonest[service_id] = best
    return soonest


# --- workloads: each runs ``n`` operations -------------------------------------------------------------------------


def workloads(s: Setup) -> dict[str, Callable[[int], None]]:
    calc = s.calc
    now = epoch_seconds(NOW)
    windows = [now, now + 86_400]  # two instants in different cut-off windows: the board is rebuilt each time

    def promise(n: int) -> None:
        singles = s.singles
        for k in range(n):
            node_id, service_id, at, miles, region = singles[k % len(singles)]
            calc.promise(node_id, service_id, at, miles, region)

    def ship(n: int) -> None:
        singles = s.singles
        for k in range(n):
            node_id, service_id, at, _, _ = singles[k % len(singles)]
            calc.ship(node_id, service_id, at)

    def board(n: int) -> None:
        for k in range(n):
            calc.board(windows[k % 2])

    def distances(n: int) -> None:
        for k in range(n):
            to = s.carts[k % len(s.carts)][1]
            haversine_miles(to.lat, to.lon, s.lats, s.lons).tolist()

    def cart_dates(n: int) -> None:
        for k in range(n):
            nodes, to = s.carts[k % len(s.carts)]
            earliest_deliveries(calc, calc.board(now + k % 60), nodes, s.cart_miles[k % len(s.carts)], to)

    def cart(n: int) -> None:
        for k in range(n):
            nodes, to = s.carts[k % len(s.carts)]
            miles = haversine_miles(to.lat, to.lon, s.lats, s.lons).tolist()
            earliest_deliveries(calc, calc.board(now + k % 60), nodes, miles, to)

    def cart_board_rebuilt(n: int) -> None:
        for k in range(n):
            nodes, to = s.carts[k % len(s.carts)]
            miles = haversine_miles(to.lat, to.lon, s.lats, s.lons).tolist()
            earliest_deliveries(calc, calc.board(windows[k % 2]), nodes, miles, to)

    def cart_no_board(n: int) -> None:
        board = calc.board(now)
        for k in range(n):
            nodes, to = s.carts[k % len(s.carts)]
            earliest_without_board(calc, board, s, nodes, to, now + k % 60)

    def options(rules: TimeRules | None) -> Callable[[int], None]:
        def run(n: int) -> None:
            for k in range(n):
                to = s.carts[k % len(s.carts)][1]
                lines = s.cart_lines[k % len(s.carts)]
                cart_options(
                    s.checkout, lines, s.stock, to.lat, to.lon, Destination(region=to.region), now + k % 60, rules
                )

        return run

    return {
        "promise": promise,
        "ship": ship,
        "board": board,
        "distances": distances,
        "cart dates": cart_dates,
        "cart": cart,
        "cart, board rebuilt": cart_board_rebuilt,
        "cart, no board": cart_no_board,
        "cart options": options(None),
        "cart options, time rules": options(s.rules),
    }


OPS = {
    "promise": 20_000,
    "ship": 20_000,
    "board": 200,
    "distances": 2_000,
    "cart dates": 2_000,
    "cart": 2_000,
    "cart, board rebuilt": 300,
    "cart, no board": 300,
    "cart options": 2_000,
    "cart options, time rules": 2_000,
}


# Operations counted under callgrind: enough that n of them add 100 M instructions or more, since
# two runs of the same child differ by about a million (object addresses feed some hashes).
CALLGRIND_OPS = {
    "promise": 40_000,
    "ship": 40_000,
    "board": 300,
    "distances": 1_000,
    "cart dates": 1_000,
    "cart": 1_000,
    "cart, board rebuilt": 200,
    "cart, no board": 200,
    "cart options": 1_000,
    "cart options, time rules": 1_000,
}


def settle() -> None:
    """Collect, then freeze what is left: a full collection over the loaded network's objects
    would otherwise land in some measurements and not others (millions of instructions each)."""
    gc.collect()
    gc.freeze()


def cpu_times(s: Setup, rounds: int) -> dict[str, float]:
    """µs of CPU per operation, median of ``rounds`` interleaved rounds."""
    loads = workloads(s)
    for name, run in loads.items():
        run(OPS[name] // 10)  # warm: spans built, arrivals remembered
    times: dict[str, list[float]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, run in loads.items():
            started = time.process_time()
            run(OPS[name])
            times[name].append((time.process_time() - started) / OPS[name] * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def instructions(name: str, n: int, places_file: Path) -> int:
    return child_instructions("benchmarks.promise_bench", name, str(n), str(places_file))


def child(name: str, n: int, places_file: Path) -> int:
    s = setup([ShipTo(*place) for place in json.loads(places_file.read_text())])
    settle()
    run = workloads(s)[name]
    run(max(1, OPS[name] // 10))
    run(n)
    return 0


def large_network(nodes: int) -> dict[str, float]:
    """Build and first-board times (ms of CPU) for a generated network of ``nodes`` nodes."""
    network = parse_network(make_network(nodes, 20, seed=3, store_share=0.1))
    started = time.process_time()
    calc = PromiseCalculator(network.node_schedules, network.carrier_services_in_force.values())
    built = time.process_time()
    calc.board(epoch_seconds(NOW))
    first = time.process_time()
    calc.board(epoch_seconds(NOW) + 86_400)
    again = time.process_time()
    return {
        "nodes": nodes,
        "build_ms": (built - started) * 1e3,
        "first_board_ms": (first - built) * 1e3,
        "board_ms": (again - first) * 1e3,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.promise_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the CPU timing")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--calls", type=int, default=0, help="n for callgrind (default: CALLGRIND_OPS)")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "N", "PLACES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]), Path(args.child[2]))

    started = time.process_time()
    network = read_network_file(SAMPLE)
    PromiseCalculator(network.node_schedules, network.carrier_services_in_force.values()).board(epoch_seconds(NOW))
    build_sample_ms = (time.process_time() - started) * 1e3
    places = ship_tos(400, random.Random(11))  # read once here: the ZIP table is slow under valgrind
    s = setup(places)
    settle()
    board = s.calc.board(epoch_seconds(NOW))
    offered = sum(day != NOT_OFFERED for days in board.ship_days.values() for day in days)
    candidates = statistics.mean(len(nodes) for nodes, _ in s.carts)
    micros = cpu_times(s, args.rounds)
    counts: dict[str, float] = {}
    if args.callgrind:
        places_file = Path(tempfile.mkdtemp(prefix="promise_bench_")) / "places.json"
        places_file.write_text(json.dumps([[p.lat, p.lon, p.region] for p in places]))
        for name in OPS:
            n = args.calls or CALLGRIND_OPS[name]
            low, high = instructions(name, n, places_file), instructions(name, 2 * n, places_file)
            counts[name] = (high - low) / n
    large = large_network(2_000)

    result = {
        "date": date.today().isoformat(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "sample": {
            "nodes": len(board.node_ids),
            "node_service_pairs": offered,
            "mean_cart_candidate_nodes": round(candidates, 1),
            "load_and_build_ms": round(build_sample_ms, 1),
        },
        "cpu_us_per_op": {k: round(v, 2) for k, v in micros.items()},
        "instructions_per_op": {k: round(v) for k, v in counts.items()},
        "network_2000": {k: round(v, 1) for k, v in large.items()},
    }
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{result['date']}-promise"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(report(result, args.rounds))
    print(report(result, args.rounds))
    return 0


def report(r: dict[str, Any], rounds: int) -> str:
    sample = r["sample"]
    lines = [
        f"# Delivery promises, {r['date']}",
        "",
        f"CPU time of one process (`time.process_time`, {r['machine']}, Python {r['python']}), median of {rounds}"
        " interleaved rounds; `python -m benchmarks.promise_bench"
        + (
            " --callgrind`; instructions from valgrind's callgrind (n and 2n operations, difference / n)."
            if r["instructions_per_op"]
            else "`."
        ),
        f"Sample network: {sample['nodes']} nodes, {sample['node_service_pairs']} node-service pairs offered;"
        f" a 3-line cart has {sample['mean_cart_candidate_nodes']} candidate nodes on average"
        f" (nodes holding any of its SKUs). Reading the file, building the calculator and its first board:"
        f" {sample['load_and_build_ms']} ms.",
        "",
        "| operation | µs CPU | instructions |",
        "|---|---:|---:|",
    ]
    for name, micros in r["cpu_us_per_op"].items():
        count = r["instructions_per_op"].get(name)
        lines.append(f"| {name} | {micros:,.2f} | {f'{count:,}' if count is not None else ''} |")
    big = r["network_2000"]
    lines += [
        "",
        "For scale: a trivial gRPC call (Health.Check) costs 190-240 µs of server CPU on this machine"
        " (benchmarks/results/2026-12-06-service.md, docs/profiling.md); checkout's Promise call is to"
        " cost at most twice that. `cart` is the dates' share of it: distances (shared with pricing)"
        " and the earliest delivery per carrier service over the cart's candidate nodes.",
        "",
        f"2,000-node network: calculator built in {big['build_ms']} ms, first board (spans built)"
        f" {big['first_board_ms']} ms, a board after a cut-off {big['board_ms']} ms.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
