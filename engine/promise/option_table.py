"""Every candidate node's carrier options at once: what ``ShipOptions.option`` and ``rates`` answer
node by node, as arrays over (carrier service, node).

A promise order over 2,000 nodes asked those per node, two to three options each: 23 ms of a 100 ms
Source (docs/profiling.md, "Large orders end to end"). Here each service's zones are one
``searchsorted``, its delivery days one lookup per distinct (ship day, transit) pair, its prices
and eligibility a few array operations, and the priced options of nodes alike are shared objects.
The answers are the same, to the last bit (tests/engine/promise/test_option_table.py).

Lines promised differently (``ShipOptions.per_line``), nodes a rule about time names (a closure
or a cut-off change: ``TimeRules.touched``) and a re-plan's held nodes (``ShipOptions.kept``) are
left to the per-node path (``by_node``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.geo import FloatArray
from engine.network import BoolArray, IntArray
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator
from engine.promise.model import NON_CONTIGUOUS_REGIONS, CarrierService, ShipTo
from engine.promise.time_rules import TimeRules
from engine.rates import RateTable


@dataclass(frozen=True)
class OptionTable:
    """[S, M] per carrier service (``services``, in id order) and node: whether a shipment may go by
    it (``eligible``), its dates, zone and price for any contents (``fixed`` per shipment: base and
    surcharges; ``per_lb`` per billed pound), and the days it arrives after the promise
    (``late_days``, when a rule allows lateness: the order pays for them once, not the box).
    ``by_node`` [M]: nodes whose options only the per-node path knows (their columns here mean nothing)."""

    services: tuple[tuple[str, RateTable, CarrierService], ...]
    eligible: BoolArray
    ship_day: IntArray
    delivery: IntArray
    zone: IntArray
    fixed: FloatArray
    per_lb: FloatArray
    late_days: IntArray
    by_node: BoolArray

    def select(self, columns: IntArray) -> OptionTable:
        """The table of the nodes at ``columns``."""
        return OptionTable(
            self.services,
            self.eligible[:, columns],
            self.ship_day[:, columns],
            self.delivery[:, columns],
            self.zone[:, columns],
            self.fixed[:, columns],
            self.per_lb[:, columns],
            self.late_days[:, columns],
            self.by_node[columns],
        )

    def kept(self) -> BoolArray:
        """[S, M] the eligible options no other eligible one of the node dominates
        (``OptionRate.dominates``: never dearer for any shipment, never later after the promise,
        chosen first on every tie)."""
        kept = self.eligible.copy()
        count = len(self.services)
        for s in range(count):
            mine = self.services[s][2].dim_divisor
            for t in range(count):
                theirs = self.services[t][2].dim_divisor
                if t == s or (theirs is not None and (mine is None or theirs < mine)):
                    continue  # t bills dimensional weight where s does not, or from a smaller divisor
                tie = (self.delivery[t] < self.delivery[s]) | ((self.delivery[t] == self.delivery[s]) & (t < s))
                beats = (
                    self.eligible[t]
                    & (self.per_lb[t] <= self.per_lb[s])
                    & (self.fixed[t] <= self.fixed[s])
                    & (self.late_days[t] <= self.late_days[s])
                    & ((self.fixed[t] < self.fixed[s]) | tie)
                )
                kept[s] &= ~beats
        return kept


def option_table(
    calculator: PromiseCalculator,
    services: Sequence[tuple[str, RateTable, CarrierService, Sequence[int]]],
    board_positions: IntArray,
    distances: FloatArray,
    *,
    ship_to: ShipTo,
    promised_day: int | None,
    late_penalty: float | None,
    latest_day: int | None,
    rules: TimeRules | None,
    node_ids: Sequence[str],
    kept: frozenset[str] = frozenset(),
) -> OptionTable:
    """The table for nodes at ``board_positions`` in the calculator's board (``services``: each with
    its ship days there), ``distances`` miles from ``ship_to``: the order's promise is one for every
    line (``promised_day``, ``late_penalty``, ``latest_day`` as ``ShipOptions`` holds them; a named carrier service is
    the only one in ``services``)."""
    count, size = len(services), int(board_positions.shape[0])
    shape = (count, size)
    eligible = np.zeros(shape, dtype=bool)
    ship_day = np.full(shape, NOT_OFFERED, dtype=np.int64)
    delivery = np.zeros(shape, dtype=np.int64)
    zone = np.ones(shape, dtype=np.int64)
    fixed = np.zeros(shape, dtype=np.float64)
    per_lb = np.zeros(shape, dtype=np.float64)
    late_days = np.zeros(shape, dtype=np.int64)
    region, zip3 = ship_to.region, ship_to.zip3
    for s, (service_id, _, service, ship_days) in enumerate(services):
        days = np.asarray(ship_days, dtype=np.int64)[board_positions]
        offered = days != NOT_OFFERED
        offshore = service.offshore_zone(region)
        zones = (
            np.full(size, offshore, dtype=np.int64)
            if offshore is not None
            else np.searchsorted(np.asarray(service.zone_limits_miles, dtype=np.float64), distances, side="left") + 1
        )
        transit = np.asarray([0, *(row.transit_days for row in service.zones)], dtype=np.int64)[zones]
        if rules is not None:
            if rules.services is not None and service_id not in rules.services:
                offered[:] = False
            if rules.max_transit_days is not None:
                offered &= transit <= rules.max_transit_days
        arrive = np.zeros(size, dtype=np.int64)
        if offered.any():
            keys, inverse = np.unique(days[offered] * 64 + transit[offered], return_inverse=True)
            arrivals = [calculator.delivery_day_after(service_id, k // 64, k % 64) for k in keys.tolist()]
            arrive[offered] = np.asarray(arrivals, dtype=np.int64)[inverse.reshape(-1)]
        ok = offered if latest_day is None else offered & (arrive <= latest_day)  # a trial day: strict
        if promised_day is not None:
            on_time = arrive <= promised_day
            if late_penalty is None:
                ok = ok & on_time
            else:
                late_days[s] = np.where(on_time, 0, arrive - promised_day)
        bases = np.asarray([0.0, *(row.base for row in service.zones)], dtype=np.float64)[zones]
        # In carrier_charge's order of additions: base, weight (0 for the price per shipment), surcharges.
        charge = bases + 0.0
        charge = charge + (service.residential_surcharge if ship_to.residential else 0.0)
        charge = charge + (service.non_contiguous_surcharge if region in NON_CONTIGUOUS_REGIONS else 0.0)
        charge = charge + (service.remote_area_surcharge if zip3 and zip3 in service.remote_area_zip3 else 0.0)
        eligible[s] = ok
        ship_day[s] = days
        delivery[s] = arrive
        zone[s] = zones
        fixed[s] = charge
        per_lb[s] = np.asarray([0.0, *(row.per_lb for row in service.zones)], dtype=np.float64)[zones]
    # Nodes a rule about time names, and a re-plan's held nodes (``ShipOptions.keep``: their options
    # when none keeps the promise), are the per-node path's.
    named = (rules.touched if rules is not None else frozenset()) | kept
    by_node = np.zeros(size, dtype=bool)
    if named:
        by_node = np.fromiter((node_id in named for node_id in node_ids), dtype=bool, count=size)
    return OptionTable(
        tuple((sid, table, service) for sid, table, service, _ in services),
        eligible,
        ship_day,
        delivery,
        zone,
        fixed,
        per_lb,
        late_days,
        by_node,
    )
