"""The facts conditions read, taken from an order and the decision date (passed in: no clocks here).

Fields the engine's Order has no slot for come from its attributes, under fixed keys
the server fills from the request: ``customer_id`` (and ``customer_<name>``),
``ship_to_country`` / ``ship_to_region`` / ``ship_to_postal_code``, ``currency``, and
per line ``unit_price`` (a decimal in the order's currency). A fact that is absent or not
a number where a number is compared is ``None``: every comparison on it is false.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from engine.model import Order, OrderLine
from engine.rules.model import Fact, FieldType, RuleSet, Scalar

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")

FactValue = Scalar | None

# Facts with a fixed meaning; anything under "attributes" (and any customer field) is open.
ORDER_FIELDS: Mapping[str, FieldType] = {
    "id": FieldType.TEXT,
    "channel": FieldType.TEXT,
    "service_level": FieldType.TEXT,
    "delivery_method": FieldType.TEXT,
    "pickup_node_id": FieldType.TEXT,
    "currency": FieldType.TEXT,
    "units": FieldType.NUMBER,
    "lines": FieldType.NUMBER,
    "value": FieldType.NUMBER,
    "priority": FieldType.NUMBER,
}
LINE_FIELDS: Mapping[str, FieldType] = {
    "id": FieldType.TEXT,
    "sku": FieldType.TEXT,
    "qty": FieldType.NUMBER,
    "hazmat": FieldType.BOOL,
    "weight": FieldType.NUMBER,
    "value": FieldType.NUMBER,
}
SHIP_TO_FIELDS: Mapping[str, FieldType] = {
    "country": FieldType.TEXT,
    "region": FieldType.TEXT,
    "postal_code": FieldType.TEXT,
}
DATE_FIELDS: Mapping[str, FieldType] = {"date": FieldType.NUMBER, "weekday": FieldType.TEXT}


def date_number(day: date) -> float:
    """A date as the number yyyymmdd, so windows compare as numbers."""
    return float(day.year * 10000 + day.month * 100 + day.day)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """Fact values for the order (``order``) and for each line (``lines[i]``, line facts only)."""

    order: Mapping[Fact, FactValue]
    lines: tuple[Mapping[Fact, FactValue], ...]


def order_facts(rule_set: RuleSet, order: Order, day: date, facts: Sequence[Fact] | None = None) -> OrderFacts:
    """``facts``: ``rule_set.facts()`` when the caller has it already (it walks every rule)."""
    facts = rule_set.facts() if facts is None else facts
    order_level = [f for f in facts if not f.per_line]
    line_level = [f for f in facts if f.per_line]
    prices = [_line_value(rule_set, order, line) for line in order.lines]
    fixed = _order_fixed(order, prices) if order_level else {}
    values: dict[Fact, FactValue] = {f: _order_value(f, order, day, fixed) for f in order_level}
    lines = tuple(
        {f: _line_fact(f, line, on_line) for f in line_level}
        for line, on_line in zip(order.lines, _lines_fixed(order, prices, bool(line_level)), strict=True)
    )
    return OrderFacts(values, lines)


def _typed(value: str | None, type_: FieldType) -> FactValue:
    if value is None:
        return None
    if type_ is FieldType.NUMBER:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if type_ is FieldType.BOOL:
        return value.strip().lower() in ("true", "1", "yes")
    return value


def _order_fixed(order: Order, prices: list[float | None]) -> dict[str, FactValue]:
    """The order's fixed fields, computed once per order (not once per fact that reads one)."""
    return {
        "id": order.order_id,
        "channel": order.channel,
        "service_level": order.service_level,
        "delivery_method": order.delivery_method.value,
        "pickup_node_id": order.pickup_node_id,
        "currency": order.attributes.get("currency", ""),
        "units": float(order.units),
        "lines": float(len(order.lines)),
        "value": None if any(p is None for p in prices) else sum(p or 0.0 for p in prices),
        "priority": float(order.priority),
    }


def _order_value(fact: Fact, order: Order, day: date, fixed: Mapping[str, FactValue]) -> FactValue:
    head, *rest = fact.path
    attributes = order.attributes
    if head == "order":
        name = rest[0]
        if name == "attributes":
            return _typed(attributes.get(rest[1]), fact.type)
        return fixed[name]
    if head == "customer":
        return _typed(attributes.get(f"customer_{rest[0]}"), fact.type)
    if head == "ship_to":
        return _typed(attributes.get(f"ship_to_{rest[0]}"), fact.type)
    if head == "date":
        return date_number(day) if rest[0] == "date" else WEEKDAYS[day.weekday()]
    raise AssertionError(f"unknown fact {fact.name}")  # the loader admits no other


def _lines_fixed(order: Order, prices: list[float | None], wanted: bool) -> list[dict[str, FactValue]]:
    """Each line's fixed fields, once per line (empty when no fact reads a line)."""
    if not wanted:
        return [{} for _ in order.lines]
    return [
        {
            "id": line.line_id,
            "sku": line.sku,
            "qty": float(line.qty),
            "hazmat": line.hazmat,
            "weight": float(line.unit_weight_lb),
            "value": value,
        }
        for line, value in zip(order.lines, prices, strict=True)
    ]


def _line_fact(fact: Fact, line: OrderLine, fixed: Mapping[str, FactValue]) -> FactValue:
    name = fact.path[1]
    if name == "attributes":
        return _typed(line.attributes.get(fact.path[2]), fact.type)
    return fixed[name]


def _line_value(rule_set: RuleSet, order: Order, line: OrderLine) -> float | None:
    """qty × unit price in the rule set's currency; 0 without a price, None in an unknown currency."""
    price = _typed(line.attributes.get("unit_price"), FieldType.NUMBER)
    if price is None:
        return 0.0
    currency = order.attributes.get("currency", rule_set.currency) or rule_set.currency
    rate = 1.0 if currency == rule_set.currency else rule_set.rates.get(currency)
    if rate is None:
        return None
    assert isinstance(price, float)
    return line.qty * price * rate
