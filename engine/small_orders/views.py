"""What the small-order path keeps per network snapshot: node lists by SKU, distances per ship-to
point and the directives' view of the nodes, each bounded."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from engine.decision import (
    NodeNote,
)
from engine.directives import Directives
from engine.geo import haversine_miles
from engine.network import NetworkSnapshot
from engine.problem import Elimination
from engine.rates import RateTable

CANDIDATE = int(Elimination.CANDIDATE)


EXCLUDED = int(Elimination.EXCLUDED)


NOT_REQUIRED = int(Elimination.NOT_REQUIRED)


NOT_PICKUP_NODE = int(Elimination.NOT_PICKUP_NODE)


PROTECTED = int(Elimination.PROTECTED)


LATE = int(Elimination.LATE)


class _View:
    """What one Directives object says of each node, worked out once per node and kept while the
    same object comes back (engine/rules/cache.py hands one object to every order of a shape)."""

    def __init__(self, snapshot: NetworkSnapshot, directives: Directives) -> None:
        self.snapshot = snapshot
        self.directives = directives
        protections = [(p, p.node_ids) for p in directives.protections]
        known = snapshot.index
        # A protection naming no node of the network, or none of the order's SKUs, is skipped per order.
        self.protected_by_all = [(p, m) for p, m in protections if any(i in known for i in m)]
        self.all_sku = [(p, m) for p, m in self.protected_by_all if not p.skus]
        self.sku_protections = [(p, m) for p, m in self.protected_by_all if p.skus]
        self.excluded_by = [(e.rule_id, e.node_ids) for e in directives.exclusions if not e.line_ids]
        self.required_by = [(r.rule_id, r.node_ids) for r in directives.requirements if not r.line_ids]
        # (True: an exclusion, False: a requirement; its lines; its nodes), in the general path's order.
        self.by_line = [(True, e.line_ids, e.node_ids) for e in directives.exclusions if e.line_ids] + [
            (False, r.line_ids, r.node_ids) for r in directives.requirements if r.line_ids
        ]
        self.penalized = bool(directives.penalties)
        # node -> (reason by the rules, units kept of every SKU by the protections together,
        # penalties (per shipment, per unit, lines), unused)
        self.nodes: dict[int, tuple[int, int, tuple[tuple[float, float, frozenset[str]], ...], None]] = {}
        self.notes: dict[tuple[int, int, str | None], NodeNote] = {}

    def node(self, n: int) -> tuple[int, int, tuple[tuple[float, float, frozenset[str]], ...], None]:
        node_id = self.snapshot.ids[n]
        reason = 0
        if any(node_id in members for _, members in self.excluded_by):
            reason = EXCLUDED
        elif any(node_id not in members for _, members in self.required_by):
            reason = NOT_REQUIRED
        # Units kept back one protection after another, each floored at zero: with no negative
        # protection (decide_small hands those back) that is their sum, floored once.
        kept = sum(p.units for p, members in self.all_sku if node_id in members)
        penalties = tuple(
            (p.per_shipment, p.per_unit, p.line_ids) for p in self.directives.penalties if node_id in p.node_ids
        )
        info = (reason, kept, penalties, None)
        self.nodes[n] = info
        return info


PLACE_CACHE_MAX_NODES = 512  # networks up to this size keep distances per ship-to point


PLACE_CACHE_VALUES = 250_000  # distances kept per snapshot, at most (then the cache starts again)


class _Place:
    """Distances (and zones, per rate table) from one ship-to point to the snapshot's nodes."""

    def __init__(self, snapshot: NetworkSnapshot, lat: float, lon: float, nodes: list[int] | None) -> None:
        self.snapshot = snapshot
        self.lat, self.lon = lat, lon
        # Every node, or only ``nodes`` (a large network): numpy's haversine gives each element the
        # same value whatever the array around it (the general path computes it over its own nodes).
        if nodes is None:
            self.all: list[float] | None = haversine_miles(lat, lon, snapshot.lat, snapshot.lon).tolist()
            self.some: dict[int, float] = {}
        else:
            self.all = None
            picked = np.array(nodes, dtype=np.int64)
            values = haversine_miles(lat, lon, snapshot.lat[picked], snapshot.lon[picked]).tolist()
            self.some = dict(zip(nodes, values, strict=True))
        self.tables: dict[str, tuple[dict[int, int], dict[int, float], dict[int, float]]] = {}

    def distances(self, nodes: list[int]) -> list[float]:
        if self.all is not None:
            every = self.all
            return [every[n] for n in nodes]
        return [self.some[n] for n in nodes]

    def rates(
        self, table: RateTable, nodes: list[int], distances: list[float]
    ) -> tuple[dict[int, int], dict[int, float], dict[int, float]]:
        """Zone, per-shipment cost (pick-pack and carrier base) and per-pound rate by node."""
        found = self.tables.get(table.service_level)
        if found is None:
            found = ({}, {}, {})
            self.tables[table.service_level] = found
        zone, fixed, per_lb = found
        missing = [(n, d) for n, d in zip(nodes, distances, strict=True) if n not in zone]
        if missing:
            pick_pack = _lists(self.snapshot).pick_pack
            limits, base, rate = table.zone_limits_miles, table.base, table.per_lb
            for n, d in missing:
                z = bisect_left(limits, d) + 1
                zone[n] = z
                fixed[n] = pick_pack[n] + base[z - 1]
                per_lb[n] = rate[z - 1]
        return found


def _place(snapshot: NetworkSnapshot, lat: float, lon: float, stocked: list[int]) -> _Place:
    if len(snapshot) > PLACE_CACHE_MAX_NODES:
        return _Place(snapshot, lat, lon, stocked)
    places: dict[tuple[float, float], _Place] = snapshot.derived("small_orders.places", dict)
    found = places.get((lat, lon))
    if found is None:
        if len(places) * len(snapshot) >= PLACE_CACHE_VALUES:
            places.clear()
        found = _Place(snapshot, lat, lon, None)
        places[(lat, lon)] = found
    return found


_VIEWS: dict[int, _View] = {}


MAX_VIEWS = 1024


def _view(snapshot: NetworkSnapshot, directives: Directives) -> _View:
    found = _VIEWS.get(id(directives))
    if found is not None and found.directives is directives and found.snapshot is snapshot:
        return found
    view = _View(snapshot, directives)
    if len(_VIEWS) >= MAX_VIEWS:
        _VIEWS.clear()
    _VIEWS[id(directives)] = view
    return view


@dataclass(frozen=True)
class _Lists:
    """A snapshot's node attributes as Python lists (once per snapshot): element reads cost a
    fraction of numpy scalar indexing."""

    pick_pack: list[float]
    handling: list[float]
    max_units: list[int]
    ship_reasons: list[int]
    pickup_reasons: list[int]


def _lists(snapshot: NetworkSnapshot) -> _Lists:
    def make() -> _Lists:
        no_capacity = ((snapshot.max_units <= 0) | (snapshot.max_shipments <= 0)).tolist()
        ship = [
            Elimination.CLOSED if not fulfil else Elimination.NO_CAPACITY if none else 0
            for fulfil, none in zip(snapshot.can_fulfil.tolist(), no_capacity, strict=True)
        ]
        pickup = [
            Elimination.CLOSED if not able else Elimination.NO_CAPACITY if none else 0
            for able, none in zip(snapshot.can_pickup.tolist(), no_capacity, strict=True)
        ]
        return _Lists(
            pick_pack=snapshot.pick_pack.tolist(),
            handling=snapshot.handling.tolist(),
            max_units=snapshot.max_units.tolist(),
            ship_reasons=[int(r) for r in ship],
            pickup_reasons=[int(r) for r in pickup],
        )

    return snapshot.derived("small_orders.lists", make)
