"""An independent reference: every integer allocation of a tiny order, costed with engine.cost.plan_cost.

Shares no code with the optimizer: feasibility is checked here from the raw inputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from engine.availability import Availability
from engine.cost import CostBreakdown, plan_cost
from engine.decision import AllocationLine
from engine.directives import Directives
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.terms import Terms, resolve_terms


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to write ``total`` units as ``parts`` non-negative counts."""
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        previous = -1
        counts = []
        for bar in (*bars, total + parts - 1):
            counts.append(bar - previous - 1)
            previous = bar
        yield tuple(counts)


def every_allocation(
    order: Order, node_ids: Sequence[str]
) -> Iterator[tuple[tuple[tuple[int, ...], ...], list[AllocationLine]]]:
    """Every way to split each line's units over the nodes, the last part left unfilled: the
    counts per line, and the allocation lines they make."""
    per_line = [list(compositions(line.qty, len(node_ids) + 1)) for line in order.lines]
    for choice in itertools.product(*per_line):
        allocations = [
            AllocationLine(line.line_id, node_ids[n], line.sku, counts[n])
            for line, counts in zip(order.lines, choice, strict=True)
            for n in range(len(node_ids))
            if counts[n] > 0
        ]
        yield choice, allocations


def feasible_plans(
    order: Order, snapshot: NetworkSnapshot, availability: Availability, terms: Terms
) -> Iterator[tuple[list[AllocationLine], CostBreakdown]]:
    """Every feasible allocation under ``terms``' limits (no rule exclusions), priced at ``terms``."""
    node_ids = [n.id for n in snapshot.nodes]
    for _, allocations in every_allocation(order, node_ids):
        if feasible(order, snapshot, availability, allocations, set(), terms.max_shipments, terms.all_or_nothing):
            yield allocations, plan_cost(order, allocations, snapshot, terms)


def optimal_cost(
    order: Order,
    snapshot: NetworkSnapshot,
    availability: Availability,
    directives: Directives,
    least: Sequence[int] | None = None,
) -> float:
    """The least cost of any feasible allocation (inf: none); ``least`` gives each line the units it
    must keep (a re-plan's holds)."""
    terms = resolve_terms(order, directives, snapshot)
    node_ids = [n.id for n in snapshot.nodes]
    excluded = {i for e in directives.exclusions if not e.line_ids for i in e.node_ids}
    forbidden = _forbidden_pairs(order, node_ids, directives)
    best = float("inf")
    for choice, allocations in every_allocation(order, node_ids):
        if any((a.line_id, a.node_id) in forbidden for a in allocations):
            continue
        if least is not None and any(sum(counts[:-1]) < at for counts, at in zip(choice, least, strict=True)):
            continue
        if not feasible(
            order, snapshot, availability, allocations, excluded, terms.max_shipments, terms.all_or_nothing
        ):
            continue
        best = min(best, plan_cost(order, allocations, snapshot, terms).total)
    return best


def _forbidden_pairs(order: Order, node_ids: Sequence[str], directives: Directives) -> set[tuple[str, str]]:
    """(line, node) pairs a line-level exclusion or any requirement rules out."""
    forbidden: set[tuple[str, str]] = set()
    for line in order.lines:
        for exclusion in directives.exclusions:
            if line.line_id in exclusion.line_ids:
                forbidden.update((line.line_id, n) for n in exclusion.node_ids)
        for requirement in directives.requirements:
            if not requirement.line_ids or line.line_id in requirement.line_ids:
                forbidden.update((line.line_id, n) for n in node_ids if n not in requirement.node_ids)
    return forbidden


def feasible(
    order: Order,
    snapshot: NetworkSnapshot,
    availability: Availability,
    allocations: Sequence[AllocationLine],
    excluded: set[str],
    max_shipments: int | None,
    all_or_nothing: bool,
) -> bool:
    used = {a.node_id for a in allocations}
    if max_shipments is not None and len(used) > max_shipments:
        return False
    if used & excluded:
        return False
    taken: dict[tuple[str, str], int] = {}
    units: dict[str, int] = {}
    for a in allocations:
        taken[a.node_id, a.sku] = taken.get((a.node_id, a.sku), 0) + a.qty
        units[a.node_id] = units.get(a.node_id, 0) + a.qty
    for (node_id, sku), qty in taken.items():
        if qty > int(availability.for_sku(sku)[snapshot.index[node_id]]):
            return False
    for node_id, qty in units.items():
        node = snapshot.node(node_id)
        if not node.can_fulfil or (node.max_units is not None and qty > node.max_units):
            return False
    if all_or_nothing:
        filled = sum(a.qty for a in allocations)
        if filled not in (0, order.units):
            return False
    return True
