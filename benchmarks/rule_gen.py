"""Random rule files and orders: the differential tests and the rules benchmark (seeded: reproducible)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import yaml

from engine.model import DeliveryMethod, GeoPoint, Order, OrderLine

CHANNELS = ["WEB", "MARKETPLACE", "STORE", "APP"]
LEVELS = ["STANDARD", "EXPRESS"]
COUNTRIES = ["US", "CA", "MX", "DE"]
TIERS = ["GOLD", "SILVER", "BRONZE"]
SKUS = ["ACC-00001", "BTY-00003", "FUR-00001", "APP-00010", "HOM-00002"]
VENDORS = ["DS-01", "DS-02"]
DAY0 = date(2026, 11, 20)


def _pick_values(rng: random.Random, pool: list[Any]) -> Any:
    op = rng.choice(["eq", "ne", "in", "not_in", "scalar", "list"])
    if op in ("in", "not_in", "list"):
        values = rng.sample(pool, rng.randint(1, min(3, len(pool))))
        return values if op == "list" else {op: values}
    value = rng.choice(pool)
    return value if op == "scalar" else {op: value}


def _number(rng: random.Random, low: float, high: float) -> Any:
    ops = rng.sample(["gt", "gte", "lt", "lte", "eq", "ne"], rng.randint(1, 2))
    return {op: round(rng.uniform(low, high), rng.choice([0, 2])) for op in ops}


def _when(rng: random.Random) -> dict[str, Any]:
    options: list[tuple[str, str, Any]] = [
        ("order", "channel", lambda: _pick_values(rng, CHANNELS)),
        ("order", "service_level", lambda: _pick_values(rng, LEVELS)),
        ("order", "delivery_method", lambda: _pick_values(rng, ["SHIP", "PICKUP"])),
        ("order", "units", lambda: _number(rng, 1, 12)),
        ("order", "value", lambda: _number(rng, 0, 3000)),
        ("customer", "tier", lambda: _pick_values(rng, TIERS)),
        ("ship_to", "country", lambda: _pick_values(rng, COUNTRIES)),
        ("line", "hazmat", lambda: rng.choice([True, False])),
        ("line", "sku", lambda: _pick_values(rng, SKUS)),
        ("line", "qty", lambda: _number(rng, 1, 5)),
        ("line", "value", lambda: _number(rng, 0, 1500)),
        ("date", "weekday", lambda: _pick_values(rng, ["MON", "TUE", "WED", "SAT", "SUN"])),
    ]
    when: dict[str, Any] = {}
    for group, name, make in rng.sample(options, rng.randint(0, 3)):
        when.setdefault(group, {})[name] = make()
    if rng.random() < 0.3:
        key = rng.choice(["fraud_score", "segment"])
        spec = _number(rng, 0, 100) if key == "fraud_score" else _pick_values(rng, ["a", "b", "c"])
        if rng.random() < 0.3:
            spec = {"exists": rng.choice([True, False])}
        when.setdefault("order", {})["attributes"] = {key: spec}
    if rng.random() < 0.2:
        when.setdefault("line", {})["attributes"] = {"vendor_node_id": {"exists": rng.choice([True, False])}}
    return when


def _then(rng: random.Random, time_verbs: bool = False) -> dict[str, Any]:
    selectors = [{"type": "STORE"}, {"tag": "clearance"}, {"not": {"type": "DC"}}, {"distance": {"min_miles": 500}}]
    verbs: dict[str, Callable[[], dict[str, Any]]] = {
        "exclude": lambda: {"node": rng.choice(selectors)},
        "penalize": lambda: {"node": rng.choice(selectors), "per_unit": 0.5},
        "protect": lambda: {"node": {"type": "STORE"}, "units": 1},
        "limit": lambda: {"max_shipments": rng.randint(1, 3)},
        "objective": lambda: {"mode": "FEWEST_SHIPMENTS"},
        "hold": lambda: {"reason": "review"},
    }
    if time_verbs:  # rules about time (off by default: the other seeded sets stay as they were)
        services = ["GROUND", "TWO_DAY", "NEXT_DAY"]

        def span() -> dict[str, str]:
            start = DAY0 + timedelta(days=rng.randint(0, 10))
            return {"from": start.isoformat(), "to": (start + timedelta(days=rng.randint(0, 5))).isoformat()}

        verbs["ship_by"] = lambda: rng.choice(
            [{"carrier_service": rng.sample(services, rng.randint(1, 2))}, {"max_transit_days": rng.randint(1, 4)}]
        )
        verbs["close"] = lambda: {"node": rng.choice(selectors), **span(), "reason": "remodel"}
        verbs["cutoff"] = lambda: {"node": rng.choice(selectors), **span(), "time": rng.choice(["12:00", "17:30"])}
    return {verb: make() for verb, make in rng.sample(list(verbs.items()), rng.randint(1, 2))}


def rule_file(rng: random.Random, n_rules: int, time_verbs: bool = False) -> str:
    rules = []
    for i in range(n_rules):
        rule: dict[str, Any] = {"id": f"r{i}", "priority": rng.randint(0, 5), "then": _then(rng, time_verbs)}
        when = _when(rng)
        if when:
            rule["when"] = when
        if rng.random() < 0.2:
            start = DAY0 + timedelta(days=rng.randint(0, 10))
            rule["active"] = {"from": start.isoformat(), "to": (start + timedelta(days=rng.randint(0, 5))).isoformat()}
        rules.append(rule)
    doc = {"currency": "USD", "rates": {"EUR": 1.08, "CAD": 0.73}, "rules": rules}
    return str(yaml.safe_dump(doc, sort_keys=False))


def order(rng: random.Random, n: int) -> Order:
    lines = []
    for i in range(rng.randint(1, 4)):
        attributes: dict[str, str] = {}
        if rng.random() < 0.7:
            attributes["unit_price"] = rng.choice(["19.99", "250", "1200.5", "abc", "0"])
        if rng.random() < 0.2:
            attributes["vendor_node_id"] = rng.choice(VENDORS)
        hazmat = rng.random() < 0.3
        lines.append(OrderLine(f"L{i}", rng.choice(SKUS), rng.randint(1, 5), 1.0, hazmat=hazmat, attributes=attributes))
    attributes = {}
    for key, pool in (
        ("fraud_score", ["10", "79.5", "80", "95", "n/a"]),
        ("segment", ["a", "b", "c"]),
        ("customer_tier", TIERS),
        ("ship_to_country", COUNTRIES),
        ("currency", ["USD", "EUR", "CAD", "JPY"]),
    ):
        if rng.random() < 0.6:
            attributes[key] = rng.choice(pool)
    pickup = rng.random() < 0.2
    return Order(
        order_id=f"O{n}",
        ship_to=GeoPoint(rng.uniform(30, 45), rng.uniform(-120, -75)),
        lines=tuple(lines),
        channel=rng.choice([*CHANNELS, ""]),
        service_level=rng.choice(LEVELS),
        delivery_method=DeliveryMethod.PICKUP if pickup else DeliveryMethod.SHIP,
        pickup_node_id="ST-001" if pickup else "",
        attributes=attributes,
    )


def day(rng: random.Random) -> date:
    return DAY0 + timedelta(days=rng.randint(-2, 18))
