"""Prove hard instances optimal offline with an independent solver (HiGHS, through ``highspy``, a
benchmarks-only dependency: the product never imports it).

Shares no code with the engine: the cost model (docs/cost-model.md, default rates) is written out
again here from the instance's raw fields, and the model is the textbook one: x[l, n] integer
units, y[n] binary, x <= min(qty, stock) * y, per-(SKU, node) stock, per-line demand, s >= Σy - 1,
backorders at their penalty. Each instance is solved to a zero relative and absolute gap with a
generous time limit; one that does not reach a proof is left out (and counted), never stored
with a bound in place of an optimum.

    .venv/bin/python -m benchmarks.prove_hard_orders /tmp/hard-candidates.jsonl \
        --out benchmarks/data/hard-orders.jsonl.gz --time-limit 600
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import highspy

ZONE_LIMITS = (50.0, 150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0)
BASE = (5.00, 5.50, 6.00, 6.80, 7.80, 8.80, 9.80, 11.00)
PER_LB = (0.30, 0.35, 0.45, 0.60, 0.80, 1.00, 1.20, 1.45)
RADIUS = 3958.8


def miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * RADIUS * math.asin(math.sqrt(min(1.0, h)))


def zone(distance: float) -> int:
    """0-based zone index; a distance on a band's limit is in the lower zone."""
    for z, limit in enumerate(ZONE_LIMITS):
        if distance <= limit:
            return z
    return len(ZONE_LIMITS)


def prove(doc: dict[str, Any], time_limit_s: float) -> tuple[float | None, float, str]:
    """(optimal cost or None, seconds, HiGHS's model status) for one instance."""
    order = doc["order"]
    to = order["ship_to"]
    lines = order["lines"]
    stock: dict[tuple[str, str], int] = {(i["node"], i["sku"]): int(i["available"]) for i in doc["inventory"]}
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("threads", 1)
    backorder = float(doc["backorder_penalty"])
    offset = backorder * sum(line["qty"] for line in lines)
    ys = []
    x_by_line: list[list[Any]] = [[] for _ in lines]
    by_position: dict[tuple[str, str], list[Any]] = {}
    for node in doc["nodes"]:
        z = zone(miles(to["lat"], to["lon"], node["lat"], node["lon"]))
        fixed = node["pick_pack_cost"] + BASE[z]
        y = h.addBinary(obj=fixed)
        ys.append(y)
        for i, line in enumerate(lines):
            held = stock.get((node["id"], line["sku"]), 0)
            ub = min(line["qty"], held)
            if ub <= 0:
                continue
            unit = node["unit_cost"] + PER_LB[z] * line["unit_weight_lb"]
            x = h.addIntegral(lb=0, ub=ub, obj=unit - backorder)  # each unit shipped saves its backorder
            h.addConstr(x - ub * y <= 0)
            x_by_line[i].append(x)
            by_position.setdefault((node["id"], line["sku"]), []).append(x)
    for i, xs in enumerate(x_by_line):
        if xs:
            h.addConstr(sum(xs) <= lines[i]["qty"])
    for (node_id, sku), xs in by_position.items():
        if len(xs) > 1:  # a SKU on several lines shares the node's stock
            h.addConstr(sum(xs) <= stock[node_id, sku])
    split = h.addVariable(lb=0, obj=float(doc["split_penalty"]))
    h.addConstr(split - sum(ys) >= -1)
    max_shipments = order.get("max_shipments")
    if max_shipments is not None:
        h.addConstr(sum(ys) <= max_shipments)
    started = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - started
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, seconds, status
    info = h.getInfo()
    if info.mip_gap > 1e-9 and abs(info.objective_function_value - info.mip_dual_bound) > 1e-6:
        return None, seconds, f"{status} (gap {info.mip_gap})"
    return round(info.objective_function_value + offset, 6), seconds, status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.prove_hard_orders", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("candidates", type=Path, help="a .jsonl of instances from benchmarks.hard_orders")
    parser.add_argument("--out", type=Path, required=True, help="the proven instances, .jsonl.gz")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per instance (default 600)")
    args = parser.parse_args(argv)
    proven, unproven = [], []
    for line in args.candidates.read_text().splitlines():
        doc = json.loads(line)
        cost, seconds, status = prove(doc, args.time_limit)
        name = f"{doc['kind']}-{doc['seed']}"
        print(f"{name}: {status} in {seconds:.1f} s" + (f", optimum {cost}" if cost is not None else ""), flush=True)
        if cost is None:
            unproven.append(name)
            continue
        doc.update(optimal_cost=cost, optimal_status="OPTIMAL", prover=f"HiGHS (highspy {metadata.version('highspy')})",
                   prover_seconds=round(seconds, 2))  # fmt: skip
        proven.append(doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt") as out:
        for doc in proven:
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{len(proven)} proven, {len(unproven)} not: {unproven}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
