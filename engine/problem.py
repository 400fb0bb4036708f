"""An order turned into numbers: candidate nodes, per-shipment and per-unit costs, availability.

Built with numpy over all nodes at once; the optimizer only ever sees this.
Costs here follow engine/cost.py exactly (tests/test_problem.py checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np

from engine.availability import Availability
from engine.directives import Directives, Protection
from engine.geo import FloatArray, haversine_miles
from engine.model import Order
from engine.network import BoolArray, IntArray, NetworkSnapshot
from engine.promise.option_table import OptionTable
from engine.promise.shipping import OptionRate, ShipOptions, choose_options, linear_rate, table_rates

__all__ = ["BoolArray", "Elimination", "IntArray", "Problem", "build_problem", "select_columns"]
from engine.terms import Terms


class Elimination(IntEnum):
    """Why a node holding stock is not a candidate (0: it is one)."""

    CANDIDATE = 0
    CLOSED = 1
    NO_CAPACITY = 2
    EXCLUDED = 3
    NOT_REQUIRED = 4
    NOT_PICKUP_NODE = 5
    PROTECTED = 6  # open to the order, but rules protect every ordered unit it holds
    LATE = 7  # cannot deliver by the order's promise (date or carrier service): engine/promise/shipping.py


@dataclass(frozen=True)
class Problem:
    """L lines, K distinct SKUs, N candidate nodes (a subset of the snapshot)."""

    order: Order
    terms: Terms
    skus: tuple[str, ...]
    sku_row: IntArray  # [L] row of each line's SKU in ``avail``
    qty: IntArray  # [L]
    weight: FloatArray  # [L] unit weight, lb
    nodes: IntArray  # [N] snapshot index of each candidate
    node_ids: tuple[str, ...]  # [N]
    distance: FloatArray  # [N] miles
    zone: IntArray  # [N] 0 for pickup
    fixed: FloatArray  # [N] money per shipment
    unit: FloatArray  # [L, N] money per unit
    allowed: BoolArray  # [L, N] line may take units from node
    avail: IntArray  # [K, N] units that may be promised, net of protections
    max_units: IntArray  # [N] units the node can still handle
    stocked: IntArray  # snapshot indices of every node holding an ordered SKU (protected units too)
    elimination: IntArray  # [len(stocked)] an Elimination per stocked node
    stocked_distance: FloatArray  # [len(stocked)] miles (``distance`` is its candidates' part)
    protected_by: tuple[tuple[Protection, BoolArray], ...]  # (protection, snapshot nodes) per protection applied
    excluded_by: tuple[tuple[str, BoolArray], ...]  # (rule id, snapshot nodes) per order-wide exclusion
    required_by: tuple[tuple[str, BoolArray], ...]  # (rule id, snapshot nodes) per order-wide requirement
    # What the explanations read when a line goes unfilled (references, nothing copied).
    availability: Availability  # before the rules' protections
    directives: Directives
    # [L] units each line must keep: a re-plan's holds (no line ends below what it holds, or the
    # re-plan could not apply the plan: engine/reoptimize.py); None for a new order.
    least: IntArray | None = None
    volume: FloatArray | None = None  # [L] unit volume, cubic inches (promise orders)
    # [N] each candidate's carrier options, priced (engine.promise.shipping.OptionRate), when some
    # candidate's price is not per shipment + per unit (options cross, or dimensional weight bills
    # some mixes only): ``fixed`` and ``unit`` then leave the carrier's charge out, and a shipment
    # pays the cheapest option for its weight and volume (``carrier_charges``). None: linear.
    pricing: tuple[tuple[OptionRate, ...], ...] | None = None

    @property
    def n_lines(self) -> int:
        return int(self.qty.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.nodes.shape[0])

    def carrier_charges(self, x: IntArray) -> FloatArray:
        """[N] with ``pricing``: what each candidate's shipment of ``x[:, n]`` units would pay the
        carrier as the order's only shipment, its lateness penalty included (0 where it ships nothing)."""
        assert self.pricing is not None and self.volume is not None
        pounds = (self.weight @ x).tolist()
        volume = (self.volume @ x).tolist()
        used = (x.sum(axis=0) > 0).tolist()
        penalty = self.terms.late_penalty_per_day
        return np.array(
            [
                choose_options([(rates, w, v)], penalty)[2] if u else 0.0
                for rates, w, v, u in zip(self.pricing, pounds, volume, used, strict=True)
            ],
            dtype=np.float64,
        )

    def carrier_total(self, x: IntArray) -> float:
        """With ``pricing``: what the plan ``x`` pays the carriers, each shipment by its cheapest
        eligible option, plus the order's lateness penalty, once, by its latest shipment."""
        assert self.pricing is not None and self.volume is not None
        pounds = (self.weight @ x).tolist()
        volume = (self.volume @ x).tolist()
        used = (x.sum(axis=0) > 0).tolist()
        boxes = [(rates, w, v) for rates, w, v, u in zip(self.pricing, pounds, volume, used, strict=True) if u]
        return choose_options(boxes, self.terms.late_penalty_per_day)[2]

    def line_avail(self) -> IntArray:
        """[L, N] units each line could take alone (its SKU's availability where allowed)."""
        return np.where(self.allowed, self.avail[self.sku_row], 0)

    def rule_ids(self, n: int, why: Elimination) -> tuple[str, ...]:
        """The rules behind eliminating snapshot node ``n`` for ``why``, in rule order: the
        protections that keep its stock, or the first exclusion or requirement that applies
        (exclusions are checked before requirements); none for a node closed or out of capacity.

        Asked only for the few nodes a decision explains, so nothing per node is built up front.
        """
        if why is Elimination.PROTECTED:
            return tuple(dict.fromkeys(p.rule_id for p, members in self.protected_by if members[n]))
        if why is Elimination.EXCLUDED:
            return (next(rule_id for rule_id, members in self.excluded_by if members[n]),)
        if why is Elimination.NOT_REQUIRED:
            return (next(rule_id for rule_id, members in self.required_by if not members[n]),)
        return ()

    def kept_units(self, sku: str, n: int) -> tuple[int, tuple[Protection, ...]]:
        """Units of ``sku`` the rules keep at snapshot node ``n``, and the protections keeping them."""
        keeping = tuple(p for p, members in self.protected_by if members[n] and (not p.skus or sku in p.skus))
        return sum(p.units for p in keeping), keeping


def build_problem(
    order: Order, snapshot: NetworkSnapshot, availability: Availability, directives: Directives, terms: Terms
) -> Problem:
    """One path for every size. Small orders spend their time in fixed per-call numpy overhead, so
    the build keeps the number of numpy calls low: cached per-snapshot masks and reasons, one
    gather for availability, one distance computation, no per-node Python loops."""
    lines = order.lines
    skus = tuple(dict.fromkeys(line.sku for line in lines))
    sku_pos = {sku: k for k, sku in enumerate(skus)}
    sku_row = np.array([sku_pos[line.sku] for line in lines], dtype=np.int64)
    line_pos = {line.line_id: i for i, line in enumerate(lines)}
    held = [availability.row.get(sku, -1) for sku in skus]
    if -1 in held:
        avail_all = np.stack([availability.for_sku(sku) for sku in skus]).astype(np.int64, copy=True)
    else:  # one gather (a copy) instead of a stack of rows
        avail_all = availability.units[held].astype(np.int64, copy=False)

    # Stocked before the rules' protections: a node whose every ordered unit is protected is
    # eliminated as PROTECTED (when nothing else rules it out), so explanations can name the rule.
    stocked: IntArray = np.flatnonzero((avail_all > 0).any(axis=0))
    protected_by: list[tuple[Protection, BoolArray]] = []
    for protection in directives.protections:
        cols = snapshot.member_indices(protection.node_ids)
        if not len(cols):
            continue
        rows = [k for k, sku in enumerate(skus) if sku in protection.skus] if protection.skus else None
        if rows is not None and not rows:
            continue
        members = snapshot.membership(protection.node_ids)
        if rows is not None and len(rows) < len(skus):
            grid = np.ix_(np.array(rows, dtype=np.int64), cols)
            avail_all[grid] = np.maximum(0, avail_all[grid] - protection.units)
        else:  # every ordered SKU: two in-place passes under the cached mask, no index arrays
            where = np.broadcast_to(members, avail_all.shape)
            np.subtract(avail_all, protection.units, out=avail_all, where=where)
            np.maximum(avail_all, 0, out=avail_all, where=where)
        protected_by.append((protection, members))

    excluded_by = tuple((e.rule_id, snapshot.membership(e.node_ids)) for e in directives.exclusions if not e.line_ids)
    required_by = tuple((r.rule_id, snapshot.membership(r.node_ids)) for r in directives.requirements if not r.line_ids)
    elimination: IntArray = _reasons(snapshot, terms.pickup_node_id, excluded_by, required_by)[stocked]
    if protected_by:
        kept_all = ~(avail_all[:, stocked] > 0).any(axis=0) & (elimination == Elimination.CANDIDATE)
        elimination[kept_all] = Elimination.PROTECTED

    lat, lon = order.ship_to.lat, order.ship_to.lon
    stocked_distance = haversine_miles(lat, lon, snapshot.lat[stocked], snapshot.lon[stocked])
    checked: tuple[IntArray, OptionTable] | None = None  # the carrier options of the nodes checked for lateness
    if terms.restricted:
        checked = _eliminate_late(elimination, stocked, stocked_distance, snapshot, terms)

    candidate = elimination == Elimination.CANDIDATE
    live = stocked[candidate]
    avail = avail_all[:, live]
    allowed: BoolArray = avail[sku_row] > 0
    for exclusion in directives.exclusions:
        if exclusion.line_ids:
            _forbid(allowed, _line_rows(line_pos, exclusion.line_ids), snapshot.membership(exclusion.node_ids)[live])
    for requirement in directives.requirements:
        if requirement.line_ids:
            outside = ~snapshot.membership(requirement.node_ids)[live]
            _forbid(allowed, _line_rows(line_pos, requirement.line_ids), outside)

    distance = stocked_distance[candidate]
    keep = allowed.any(axis=0)
    nodes: IntArray = live
    if not keep.all():
        nodes, allowed, avail, distance = live[keep], allowed[:, keep], avail[:, keep], distance[keep]

    weight = np.array([line.unit_weight_lb for line in lines], dtype=np.float64)
    volume = None
    pricing = None
    if terms.pickup_node_id is not None:
        zone = np.zeros(nodes.shape[0], dtype=np.int64)
        fixed = snapshot.pick_pack[nodes]  # fancy indexing copies
        unit = np.broadcast_to(snapshot.handling[nodes], (len(lines), nodes.shape[0])).copy()
    elif terms.promised:
        volume = np.array([line.unit_volume_in3 for line in lines], dtype=np.float64)
        zone, fixed, unit, pricing = _promised_rates(snapshot, terms, nodes, distance, weight, volume, checked)
    else:
        table = terms.rate_table
        zone = table.zones(distance)
        fixed = snapshot.pick_pack[nodes] + table.base_for(zone)
        unit = snapshot.handling[nodes][None, :] + weight[:, None] * table.per_lb_for(zone)[None, :]
    for penalty in terms.penalties:
        hit = snapshot.membership(penalty.node_ids)[nodes]
        if not hit.any():
            continue
        # In place under the mask: one ufunc call where hit-indexing takes three.
        if penalty.per_shipment:  # adding 0.0 changes nothing
            np.add(fixed, penalty.per_shipment, out=fixed, where=hit)
        if not penalty.per_unit:
            continue
        if penalty.line_ids:
            _add(unit, _line_rows(line_pos, penalty.line_ids), hit, penalty.per_unit)
        else:
            np.add(unit, penalty.per_unit, out=unit, where=np.broadcast_to(hit, unit.shape))

    node_ids = snapshot.ids
    return Problem(
        order=order,
        terms=terms,
        skus=skus,
        sku_row=sku_row,
        qty=np.array([line.qty for line in lines], dtype=np.int64),
        weight=weight,
        nodes=nodes,
        node_ids=tuple([node_ids[i] for i in nodes.tolist()]),
        distance=distance,
        zone=zone,
        fixed=fixed,
        unit=unit,
        allowed=allowed,
        avail=avail,
        max_units=snapshot.max_units[nodes],
        stocked=stocked,
        elimination=elimination,
        stocked_distance=stocked_distance,
        protected_by=tuple(protected_by),
        excluded_by=excluded_by,
        required_by=required_by,
        availability=availability,
        directives=directives,
        volume=volume,
        pricing=pricing,
    )


def select_columns(problem: Problem, cols: IntArray) -> Problem:
    """The same problem restricted to candidate columns ``cols``."""
    return replace(
        problem,
        nodes=problem.nodes[cols],
        node_ids=tuple(problem.node_ids[c] for c in cols.tolist()),
        distance=problem.distance[cols],
        zone=problem.zone[cols],
        fixed=problem.fixed[cols],
        unit=problem.unit[:, cols],
        allowed=problem.allowed[:, cols],
        avail=problem.avail[:, cols],
        max_units=problem.max_units[cols],
        pricing=None if problem.pricing is None else tuple(problem.pricing[c] for c in cols.tolist()),
    )


def late_levels(problem: Problem) -> list[int]:
    """With ``pricing``: the days some candidate's eligible option is late (a rule allowing lateness),
    in order, when any is; empty otherwise."""
    if problem.pricing is None:
        return []
    levels = sorted({r.late_days for rates in problem.pricing for r in rates})
    return levels if levels[-1:] != [0] and levels else []


def within_lateness(problem: Problem, late_days: int) -> tuple[Problem, IntArray]:
    """``problem`` with every shipment late by at most ``late_days`` (each candidate's options late by
    more dropped, and the candidates with none left out: the columns kept are returned), the
    lateness itself no longer priced: the caller adds the penalty for ``late_days``. Linear again
    where each candidate is left one option billing alike for every mix (engine.promise.shipping.linear_rate)."""
    assert problem.pricing is not None and problem.volume is not None
    kept: list[tuple[OptionRate, ...]] = []
    cols: list[int] = []
    for n, rates in enumerate(problem.pricing):
        within = [replace(r, option=replace(r.option, late_days=0)) for r in rates if r.late_days <= late_days]
        if within:
            cols.append(n)
            kept.append(tuple(r for r in within if not any(o is not r and o.dominates(r) for o in within)))
    columns = np.array(cols, dtype=np.int64)
    sub = select_columns(problem, columns)
    weights, volumes = problem.weight.tolist(), problem.volume.tolist()
    linear = [linear_rate(rates, weights, volumes) for rates in kept]
    if any(one is None for one in linear):
        return replace(sub, pricing=tuple(kept)), columns
    carrier = np.array(linear, dtype=np.float64).reshape(len(kept), len(weights) + 1)
    fixed = sub.fixed + carrier[:, 0]
    unit = sub.unit + carrier[:, 1:].T
    return replace(sub, fixed=fixed, unit=unit, pricing=None), columns


def _reasons(
    snapshot: NetworkSnapshot,
    pickup_node_id: str | None,
    excluded_by: tuple[tuple[str, BoolArray], ...],
    required_by: tuple[tuple[str, BoolArray], ...],
) -> IntArray:
    """[snapshot nodes] the first Elimination that applies to each node (CANDIDATE: none does).

    Order of precedence: not the pickup node, closed, no capacity, each exclusion, each
    requirement. Assigned from the last to the first, so the first one wins.
    """
    static = snapshot.derived(
        "problem.pickup_reasons" if pickup_node_id is not None else "problem.ship_reasons",
        lambda: _static_reasons(snapshot, pickup_node_id is not None),
    )
    if not excluded_by and not required_by and pickup_node_id is None:
        return static
    reasons = np.zeros(len(snapshot), dtype=np.int64)
    for _, members in reversed(required_by):
        reasons[~members] = Elimination.NOT_REQUIRED
    for _, members in reversed(excluded_by):
        reasons[members] = Elimination.EXCLUDED
    reasons = np.where(static != Elimination.CANDIDATE, static, reasons)
    if pickup_node_id is not None:
        reasons[~snapshot.membership(frozenset({pickup_node_id}))] = Elimination.NOT_PICKUP_NODE
    return reasons


def _static_reasons(snapshot: NetworkSnapshot, pickup: bool) -> IntArray:
    """CLOSED, else NO_CAPACITY, from node attributes alone (once per snapshot); read-only."""
    closed = ~snapshot.can_pickup if pickup else ~snapshot.can_fulfil
    no_capacity = (snapshot.max_units <= 0) | (snapshot.max_shipments <= 0)
    reasons: IntArray = np.where(
        closed, int(Elimination.CLOSED), np.where(no_capacity, int(Elimination.NO_CAPACITY), 0)
    ).astype(np.int64)
    reasons.setflags(write=False)
    return reasons


def _eliminate_late(
    elimination: IntArray, stocked: IntArray, distance: FloatArray, snapshot: NetworkSnapshot, terms: Terms
) -> tuple[IntArray, OptionTable] | None:
    """Mark LATE the stocked nodes still candidates that cannot keep the order's promise. Returns
    the snapshot nodes it checked and their options (``ShipOptions.table``) when it read them
    from one: ``_promised_rates`` reads the candidates' from it."""
    options = terms.ship_options
    assert options is not None
    ids = snapshot.ids
    at = np.flatnonzero(elimination == Elimination.CANDIDATE)
    if at.shape[0] == 0:
        return None
    checked = stocked[at]
    node_ids = [ids[n] for n in checked.tolist()]
    table = options.table(node_ids, distance[at]) if options.constrained and not options.per_line else None
    elimination[at[options.late_among(node_ids, distance[at], table)]] = Elimination.LATE
    return None if table is None else (checked, table)


def _promised_rates(
    snapshot: NetworkSnapshot,
    terms: Terms,
    nodes: IntArray,
    distance: FloatArray,
    weight: FloatArray,
    volume: FloatArray,
    checked: tuple[IntArray, OptionTable] | None,
) -> tuple[IntArray, FloatArray, FloatArray, tuple[tuple[OptionRate, ...], ...] | None]:
    """Zone, per-shipment and per-unit cost of each candidate by its own carrier services
    (engine.promise.shipping.linear_rate), and None; or, when some candidate's price is not linear
    in what it ships, the costs without the carrier's and each candidate's option rates (``pricing``).

    Read off the options of every candidate at once (``ShipOptions.table``, ``checked``: those
    ``_eliminate_late`` read, of sorted snapshot nodes holding the candidates) where one promise
    holds for every line; node by node otherwise and for the nodes a rule about time names."""
    options = terms.ship_options
    assert options is not None
    ids = snapshot.ids
    node_ids = [ids[n] for n in nodes.tolist()]
    fixed = snapshot.pick_pack[nodes].copy()
    unit = np.broadcast_to(snapshot.handling[nodes], (weight.shape[0], nodes.shape[0])).copy()
    if options.per_line or nodes.shape[0] == 0:
        return _rates_by_node(options, node_ids, distance, weight, volume, fixed, unit)
    if checked is not None:
        table = checked[1].select(np.searchsorted(checked[0], nodes))
    else:
        table = options.table(node_ids, distance)
    kept = table.kept()
    columns = np.arange(nodes.shape[0])
    first = np.argmax(kept, axis=0)  # rates[0]: the first kept option in service id order
    zone = table.zone[first, columns]
    # linear_rate, per service: the billed weight of every mix is its actual weight, or its
    # dimensional weight; None: it depends on the mix.
    billed: list[FloatArray | None] = []
    for _, _, service in table.services:
        divisor = service.dim_divisor
        if divisor is None or bool((volume / divisor <= weight).all()):
            billed.append(weight)
        elif bool((volume / divisor >= weight).all()):
            billed.append(volume / divisor)
        else:
            billed.append(None)
    linear = (kept.sum(axis=0) == 1) & np.array([billed[s] is not None for s in first.tolist()], dtype=bool)
    # A late option is never linear: the order's lateness is paid once, by its latest box (linear_rate).
    linear &= table.late_days[first, columns] == 0
    custom = np.flatnonzero(table.by_node).tolist()
    custom_rates = {j: options.rates(node_ids[j], float(distance[j])) for j in custom}
    custom_linear = {j: linear_rate(r, weight.tolist(), volume.tolist()) for j, r in custom_rates.items()}
    if linear[~table.by_node].all() and all(v is not None for v in custom_linear.values()):
        carrier_fixed = table.fixed[first, columns]
        per_lb = table.per_lb[first, columns]
        carrier_unit = np.zeros_like(unit)
        for s, pounds in enumerate(billed):
            at = first == s
            if pounds is not None and at.any():
                carrier_unit[:, at] = per_lb[at][None, :] * pounds[:, None]
        for j, found in custom_linear.items():
            assert found is not None
            zone[j] = custom_rates[j][0].zone
            carrier_fixed[j] = found[0]
            carrier_unit[:, j] = found[1:]
        return zone, fixed + carrier_fixed, unit + carrier_unit, None
    rates = table_rates(table, kept)
    for j, found_rates in custom_rates.items():
        rates[j] = found_rates
        zone[j] = found_rates[0].zone
    return zone, fixed, unit, tuple(rates)


def _rates_by_node(
    options: ShipOptions,
    node_ids: list[str],
    distance: FloatArray,
    weight: FloatArray,
    volume: FloatArray,
    fixed: FloatArray,
    unit: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray, tuple[tuple[OptionRate, ...], ...] | None]:
    """``_promised_rates`` node by node (lines promised differently)."""
    rates = [options.rates(n, d) for n, d in zip(node_ids, distance.tolist(), strict=True)]
    weights, volumes = weight.tolist(), volume.tolist()
    linear = [linear_rate(r, weights, volumes) for r in rates]
    zone = np.array([r[0].zone for r in rates], dtype=np.int64)
    if any(one is None for one in linear):
        return zone, fixed, unit, tuple(rates)
    carrier = np.array(linear, dtype=np.float64).reshape(len(node_ids), len(weights) + 1)
    return zone, fixed + carrier[:, 0], unit + carrier[:, 1:].T, None


def _forbid(allowed: BoolArray, rows: IntArray, cols: BoolArray) -> None:
    """allowed[rows x cols] = False; a row at a time (rows are few) instead of an index grid."""
    for row in rows.tolist():
        allowed[row, cols] = False


def _add(unit: FloatArray, rows: IntArray, cols: BoolArray, amount: float) -> None:
    for row in rows.tolist():
        unit[row, cols] += amount


def _line_rows(line_pos: dict[str, int], line_ids: frozenset[str]) -> IntArray:
    return np.array(sorted(line_pos[i] for i in line_ids if i in line_pos), dtype=np.int64)
