"""Directives remembered by what the rules read: a dictionary lookup for an order of a known shape.

A rule set's directives for an order depend on the facts its conditions read (through which rules
fire, and on which lines) and, for the rules that fire, on a few more inputs their selectors and
verbs read: the ship-to point (distance selectors), id references (``$order.pickup_node_id``,
``$order.attributes.*``, ``$line.attributes.*``), and the ids and SKUs of the lines a per-line
rule fired on. Nothing else of the order reaches them. So:

1. ``shape``: the raw inputs of every fact the set's conditions read (the order's channel, a
   customer attribute, each line's hazmat flag, the day when a condition reads the date...), read
   straight off the order without building facts. Equal shapes give equal facts, so equal matches.
2. shape -> the matches (evaluated once by durable-rules, the engine of record) and what their
   directives read beyond the facts.
3. (shape, those inputs) -> the directives.

Kept per compiled rule-set version (engine/rules/evaluator.py's CompiledRules) and per network
snapshot (selectors pick nodes from it); a daily capacity cap reads today's shipment counts, so
directives of an order a cap fired on are built each time (its matches are still remembered).
tests/engine/rules/test_directives_cache.py compares cached and uncached evaluations on generated
orders over the shipped rules and generated rule sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.directives import Directives
from engine.model import Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.model import Fact, Rule, RuleSet, Selector

MAX_SHAPES = 16_384  # remembered per rule-set version and snapshot; cleared when full (a crude bound)

Matches = Mapping[int, tuple[int, ...]]
OrderReader = Callable[[Order, date], Any]
LineReader = Callable[[Order, OrderLine], Any]


def _order_reader(fact: Fact) -> OrderReader:
    """The raw input of an order-level fact (engine/rules/facts.py types it; equal inputs, equal facts)."""
    head, *rest = fact.path
    if head == "order":
        name = rest[0]
        if name == "attributes":
            key = rest[1]
            return lambda order, day: order.attributes.get(key)
        if name in ("units", "lines", "value"):  # value: every line's qty and unit price, in the order's currency
            return lambda order, day: (
                order.attributes.get("currency"),
                tuple((line.qty, line.attributes.get("unit_price")) for line in order.lines),
            )
        fixed: dict[str, Callable[[Order], Any]] = {
            "id": lambda order: order.order_id,
            "channel": lambda order: order.channel,
            "service_level": lambda order: order.service_level,
            "delivery_method": lambda order: order.delivery_method,
            "pickup_node_id": lambda order: order.pickup_node_id,
            "currency": lambda order: order.attributes.get("currency", ""),
            "priority": lambda order: order.priority,
        }
        read = fixed[name]
        return lambda order, day: read(order)
    if head in ("customer", "ship_to"):
        key = f"{head}_{rest[0]}"
        return lambda order, day: order.attributes.get(key)
    if head == "date":
        return lambda order, day: day
    raise AssertionError(f"unknown fact {fact.name}")  # the loader admits no other


def _line_reader(fact: Fact) -> LineReader:
    name = fact.path[1]
    if name == "attributes":
        key = fact.path[2]
        return lambda order, line: line.attributes.get(key)
    fixed: dict[str, LineReader] = {
        "id": lambda order, line: line.line_id,
        "sku": lambda order, line: line.sku,
        "qty": lambda order, line: line.qty,
        "hazmat": lambda order, line: line.hazmat,
        "weight": lambda order, line: line.unit_weight_lb,
        "value": lambda order, line: (line.qty, line.attributes.get("unit_price"), order.attributes.get("currency")),
    }
    return fixed[name]


@dataclass(frozen=True)
class _Reads:
    """What the directives of one set of matches read beyond the facts."""

    ship_to: bool  # a distance selector
    order_refs: tuple[str, ...]  # id references resolved without a line
    lines: tuple[int, ...]  # lines a per-line rule fired on: their ids and SKUs, and line references
    line_refs: tuple[str, ...]
    cacheable: bool  # False: a daily capacity cap (today's counts) fired


def _selectors(rule: Rule) -> list[Selector]:
    then = rule.then
    found = [
        *(e.node for e in then.excludes),
        *(r.node for r in then.requires),
        *(p.node for p in then.penalties),
        *(p.node for p in then.protects),
        *(c.node for c in then.closes),
        *(c.node for c in then.cutoffs),
    ]
    if then.limit is not None and then.limit.node is not None:
        found.append(then.limit.node)
    return found


def _walk(selector: Selector) -> list[Selector]:
    return [selector, *(_walk(selector.exclude) if selector.exclude is not None else [])]


def _reads(rule_set: RuleSet, matches: Matches) -> _Reads:
    by_position = {rule.position: rule for rule in rule_set.rules}
    ship_to = False
    refs: dict[str, None] = {}
    lines: set[int] = set()
    cacheable = True
    for position, matched in matches.items():
        rule = by_position[position]
        lines.update(matched)
        limit = rule.then.limit
        if limit is not None and limit.node is not None and limit.max_shipments_per_day is not None:
            cacheable = False
        for selector in _selectors(rule):
            for part in _walk(selector):
                ship_to = ship_to or part.min_miles is not None or part.max_miles is not None
                refs.update(dict.fromkeys(i for i in part.ids if i.startswith("$")))
    line_refs = tuple(r for r in refs if r.startswith("$line."))
    return _Reads(ship_to, tuple(refs), tuple(sorted(lines)), line_refs, cacheable)


def _resolve(ref: str, order: Order, line: OrderLine | None) -> str:
    """engine.rules.selectors.reference_resolver's answer for ``ref``."""
    if ref == "$order.pickup_node_id":
        return order.pickup_node_id
    if ref.startswith("$order.attributes."):
        return order.attributes.get(ref.removeprefix("$order.attributes."), "")
    if ref.startswith("$line.attributes.") and line is not None:
        return line.attributes.get(ref.removeprefix("$line.attributes."), "")
    return ""


def _inputs(reads: _Reads, order: Order) -> tuple[Any, ...]:
    lines = order.lines
    return (
        (order.ship_to.lat, order.ship_to.lon) if reads.ship_to else None,
        tuple(_resolve(ref, order, None) for ref in reads.order_refs),
        tuple(
            (lines[i].line_id, lines[i].sku, tuple(_resolve(ref, order, lines[i]) for ref in reads.line_refs))
            for i in reads.lines
        ),
    )


class DirectivesCache:
    """One compiled rule-set version's directives by order shape, for one snapshot at a time."""

    def __init__(self, rule_set: RuleSet, facts: tuple[Fact, ...]) -> None:
        self.rule_set = rule_set
        self._order = [_order_reader(f) for f in facts if not f.per_line]
        self._line = [_line_reader(f) for f in facts if f.per_line]
        self._matches: dict[tuple[Any, ...], tuple[Matches, _Reads]] = {}
        # (the snapshot, its directives by shape and inputs): read once per call, so a call never
        # files directives picked on one snapshot under another.
        self._state: tuple[NetworkSnapshot | None, dict[tuple[Any, ...], Directives]] = (None, {})

    def shape(self, order: Order, day: date, purpose: str) -> tuple[Any, ...]:
        """The raw inputs of every fact the conditions read (and the purpose)."""
        on_order = tuple([read(order, day) for read in self._order])
        if not self._line:
            return (purpose, on_order)
        on_lines = tuple([tuple([read(order, line) for read in self._line]) for line in order.lines])
        return (purpose, on_order, on_lines)

    def knows(self, shape: tuple[Any, ...]) -> bool:
        """Whether the matches of ``shape`` are remembered."""
        return shape in self._matches

    def directives(
        self,
        order: Order,
        snapshot: NetworkSnapshot,
        day: date,
        purpose: str,
        match: Callable[[], Matches],
        build: Callable[[Matches], Directives],
    ) -> Directives:
        """The directives for ``order``: remembered, or ``build(match())`` remembered (``match``:
        the rules that fire, for this purpose; ``build``: their directives)."""
        shape = self.shape(order, day, purpose)
        known = self._matches.get(shape)
        if known is None:
            matches = match()
            known = (matches, _reads(self.rule_set, matches))
            if len(self._matches) >= MAX_SHAPES:
                self._matches.clear()
            self._matches[shape] = known
        matches, reads = known
        if not reads.cacheable:
            return build(matches)
        state = self._state
        if state[0] is not snapshot:
            state = (snapshot, {})
            self._state = state
        remembered = state[1]
        key = (shape, _inputs(reads, order))
        found = remembered.get(key)
        if found is None:
            found = build(matches)
            if len(remembered) >= MAX_SHAPES:
                remembered.clear()
            remembered[key] = found
        return found
