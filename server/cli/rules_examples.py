"""Example-based tests for rule sets (``rules/tests/*.yaml``): orders with the expected outcome.

Each file names the rule files and network it runs against (paths relative to itself) and
lists cases: an order, the decision date, and what must come out (rules fired, holds, limits,
excluded nodes, and facts about the decision). Run by ``oms-sourcing rules test`` and pytest.
The format is documented in docs/rules.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.availability import Availability
from engine.model import DeliveryMethod, GeoPoint, InventoryPosition, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.returns import receiving_node
from engine.rules import RuleSet, evaluate, load_rule_set
from engine.rules.model import RETURNS
from engine.sourcing import decide
from server.active_rules import read_rule_files
from server.network_file import NetworkFile, read_network_file

DEFAULT_RULES = ("../default.yaml",)
DEFAULT_NETWORK = "../../data/sample-network.json"


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    name: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


class _Network:
    def __init__(self, network: NetworkFile) -> None:
        self.snapshot = NetworkSnapshot(network.nodes, rate_tables=network.rate_tables_in_force)
        self.items = {i.sku: i for i in network.items}
        self.positions = [InventoryPosition(u.node_id, u.sku, u.quantity) for u in network.inventory]


_networks: dict[Path, _Network] = {}


def run_example_file(path: Path, rules_override: Sequence[str] = ()) -> list[CaseResult]:
    """Every case in one file; ``rules_override`` replaces the rule files the file names."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    base = path.parent
    rule_paths = list(rules_override) or [str(base / p) for p in doc.get("rules", DEFAULT_RULES)]
    rule_set = load_rule_set(read_rule_files(rule_paths))
    network_path = (base / doc.get("network", DEFAULT_NETWORK)).resolve()
    if network_path not in _networks:
        _networks[network_path] = _Network(read_network_file(network_path))
    network = _networks[network_path]
    results = []
    for i, case in enumerate(doc.get("cases", [])):
        name = str(case.get("name", f"case {i}"))
        try:
            failures = _run_case(rule_set, network, case)
        except (KeyError, TypeError, ValueError) as e:
            failures = [f"malformed case: {e!r}"]
        results.append(CaseResult(str(path), name, tuple(failures)))
    return results


def _order(spec: Mapping[str, Any], network: _Network) -> Order:
    lines = []
    for i, line in enumerate(spec["lines"]):
        item = network.items.get(line["sku"])
        lines.append(
            OrderLine(
                line_id=str(line.get("id", f"L{i}")),
                sku=line["sku"],
                qty=int(line.get("qty", 1)),
                unit_weight_lb=float(line.get("weight", item.unit_weight_lb if item else 1.0)),
                hazmat=bool(line.get("hazmat", item.hazmat if item else False)),
                attributes={str(k): str(v) for k, v in line.get("attributes", {}).items()},
            )
        )
    ship_to = spec.get("ship_to", {"lat": 40.7128, "lon": -74.006})
    return Order(
        order_id=str(spec.get("id", "example")),
        ship_to=GeoPoint(float(ship_to["lat"]), float(ship_to["lon"])),
        lines=tuple(lines),
        channel=str(spec.get("channel", "WEB")),
        service_level=str(spec.get("service_level", "STANDARD")),
        delivery_method=DeliveryMethod(spec.get("delivery_method", "SHIP")),
        pickup_node_id=str(spec.get("pickup_node_id", "")),
        attributes={str(k): str(v) for k, v in spec.get("attributes", {}).items()},
        priority=int(spec.get("priority", 0)),
    )


def _run_case(rule_set: RuleSet, network: _Network, case: Mapping[str, Any]) -> list[str]:
    order = _order(case["order"], network)
    day = case.get("date", date(2026, 11, 24))
    day = day if isinstance(day, date) else date.fromisoformat(str(day))
    shipments_today = {str(k): int(v) for k, v in case.get("shipments_today", {}).items()}
    directives = evaluate(rule_set, order, network.snapshot, day, shipments_today)
    skus = sorted({line.sku for line in order.lines})
    availability = Availability.from_positions(network.snapshot, skus, network.positions)
    decision = decide(order, network.snapshot, availability, directives)
    expect = case.get("expect", {})
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    if "fired" in expect:
        want, got = sorted(expect["fired"]), sorted(directives.fired_rules)
        check(want == got, f"fired: expected {want}, got {got}")
    if "holds" in expect:
        got_holds = sorted(h.rule_id for h in directives.holds)
        check(sorted(expect["holds"]) == got_holds, f"holds: expected {sorted(expect['holds'])}, got {got_holds}")
    if "max_shipments" in expect:
        check(directives.max_shipments == expect["max_shipments"], f"max_shipments: got {directives.max_shipments}")
    if "objective" in expect:
        got_objective = directives.objective.value if directives.objective else None
        check(got_objective == expect["objective"], f"objective: got {got_objective}")
    excluded = {n for e in directives.exclusions for n in e.node_ids}
    for node_id in expect.get("excluded", []):
        check(node_id in excluded, f"excluded: {node_id} is not excluded")
    for node_id in expect.get("not_excluded", []):
        check(node_id not in excluded, f"not_excluded: {node_id} is excluded")
    want_decision = expect.get("decision", {})
    used = [a.node_id for a in decision.allocations]
    types = {network.snapshot.node(n).type.value for n in used}
    if "shipments" in want_decision:
        check(decision.shipments == want_decision["shipments"], f"decision.shipments: got {decision.shipments}")
    if "from_types" in want_decision:
        check(types <= set(want_decision["from_types"]), f"decision.from_types: used {sorted(types)}")
    if "from" in want_decision:
        check(set(used) <= set(want_decision["from"]), f"decision.from: used {sorted(set(used))}")
    for node_id in want_decision.get("not_from", []):
        check(node_id not in used, f"decision.not_from: {node_id} was used")
    if "unfilled_units" in want_decision:
        unfilled = sum(u.qty for u in decision.unfilled)
        check(unfilled == want_decision["unfilled_units"], f"decision.unfilled_units: got {unfilled}")
    if "returns" in expect:  # every line of the order comes back
        failures += _check_return(rule_set, network, order, day, expect["returns"])
    return failures


def _check_return(rule_set: RuleSet, network: _Network, order: Order, day: date, want: Mapping[str, Any]) -> list[str]:
    directives = evaluate(rule_set, order, network.snapshot, day, purpose=RETURNS)
    route = receiving_node(network.snapshot, order, directives)
    to = route.node_id if route is not None else None
    failures = []
    if "to" in want and to != want["to"]:
        failures.append(f"returns.to: expected {want['to']}, got {to}")
    if "to_types" in want:
        got = network.snapshot.node(to).type.value if to is not None else None
        if got not in want["to_types"]:
            failures.append(f"returns.to_types: received at {to} ({got})")
    if "fired" in want and sorted(want["fired"]) != sorted(directives.fired_rules):
        failures.append(f"returns.fired: expected {sorted(want['fired'])}, got {sorted(directives.fired_rules)}")
    return failures


def example_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


def summary(results: Sequence[CaseResult]) -> str:
    lines = []
    for r in results:
        lines.append(f"{'ok  ' if r.ok else 'FAIL'} {r.file}: {r.name}")
        lines += [f"       {f}" for f in r.failures]
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def to_json(results: Sequence[CaseResult]) -> str:
    return json.dumps([{"file": r.file, "name": r.name, "failures": list(r.failures)} for r in results], indent=2)
