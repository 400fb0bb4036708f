"""The network snapshot: node attributes as numpy arrays, built once per network version.

Decisions read node attributes from here (vectorized), never node by node in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from engine.geo import FloatArray
from engine.model import Node
from engine.promise.model import DEFAULT_CARRIER_SERVICES, CarrierService, NodeSchedule
from engine.rates import DEFAULT_RATE_TABLES, RateTable

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
T = TypeVar("T")

UNLIMITED = np.iinfo(np.int64).max // 4  # capacity of a node with no cap; safe to add to


@dataclass(frozen=True)
class NetworkSnapshot:
    """Immutable view of every node; ``version`` names what a decision was made against."""

    nodes: tuple[Node, ...]
    rate_tables: Mapping[str, RateTable] = field(default_factory=lambda: dict(DEFAULT_RATE_TABLES))
    currency: str = "USD"
    version: str = ""
    # Promise data (docs/promise.md): stored node schedules (a node without one has the default)
    # and the carrier services in force, by id. engine.promise.checkout.promise_network reads them.
    node_schedules: tuple[NodeSchedule, ...] = ()
    carrier_services: Mapping[str, CarrierService] = field(default_factory=lambda: dict(DEFAULT_CARRIER_SERVICES))
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    ids: tuple[str, ...] = field(init=False, repr=False, compare=False)  # node ids in snapshot order
    lat: FloatArray = field(init=False, repr=False, compare=False)
    lon: FloatArray = field(init=False, repr=False, compare=False)
    pick_pack: FloatArray = field(init=False, repr=False, compare=False)
    handling: FloatArray = field(init=False, repr=False, compare=False)
    can_fulfil: BoolArray = field(init=False, repr=False, compare=False)
    can_pickup: BoolArray = field(init=False, repr=False, compare=False)
    max_units: IntArray = field(init=False, repr=False, compare=False)
    max_shipments: IntArray = field(init=False, repr=False, compare=False)
    _members: dict[frozenset[str], BoolArray] = field(init=False, repr=False, compare=False)
    _member_indices: dict[frozenset[str], IntArray] = field(init=False, repr=False, compare=False)
    _derived: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nodes = tuple(sorted(self.nodes, key=lambda n: n.id))  # a stable order makes decisions deterministic
        set_ = object.__setattr__
        set_(self, "nodes", nodes)
        set_(self, "index", {n.id: i for i, n in enumerate(nodes)})
        set_(self, "ids", tuple(n.id for n in nodes))
        set_(self, "lat", np.array([n.location.lat for n in nodes], dtype=np.float64))
        set_(self, "lon", np.array([n.location.lon for n in nodes], dtype=np.float64))
        set_(self, "pick_pack", np.array([n.pick_pack_cost for n in nodes], dtype=np.float64))
        set_(self, "handling", np.array([n.unit_handling_cost for n in nodes], dtype=np.float64))
        set_(self, "can_fulfil", np.array([n.can_fulfil for n in nodes], dtype=np.bool_))
        set_(self, "can_pickup", np.array([n.is_open and n.can_pickup for n in nodes], dtype=np.bool_))
        set_(self, "max_units", _caps([n.max_units for n in nodes]))
        set_(self, "max_shipments", _caps([n.max_shipments for n in nodes]))
        set_(self, "_members", {})
        set_(self, "_member_indices", {})
        set_(self, "_derived", {})

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> Node:
        return self.nodes[self.index[node_id]]

    def indices(self, node_ids: Sequence[str]) -> IntArray:
        """Indices of the known ids among ``node_ids`` (unknown ids are skipped)."""
        return np.array([self.index[i] for i in node_ids if i in self.index], dtype=np.int64)

    def membership(self, node_ids: frozenset[str]) -> BoolArray:
        """[N] True at the nodes in ``node_ids`` (unknown ids ignored); read-only.

        Rules name the same node sets order after order (every store, every node tagged
        clearance): remembered per set, a lookup instead of a sort and a search per order.
        """
        mask = self._members.get(node_ids)
        if mask is None:
            mask = np.zeros(len(self.nodes), dtype=np.bool_)
            mask[self.indices(list(node_ids))] = True
            mask.setflags(write=False)
            if len(self._members) >= _MEMBERSHIP_CACHE:  # per-order sets (a pickup node) must not pile up
                self._members.clear()
            self._members[node_ids] = mask
        return mask

    def member_indices(self, node_ids: frozenset[str]) -> IntArray:
        """Sorted indices of the nodes in ``node_ids`` (``membership``'s True positions); read-only, remembered."""
        found = self._member_indices.get(node_ids)
        if found is None:
            found = np.flatnonzero(self.membership(node_ids))
            found.setflags(write=False)
            if len(self._member_indices) >= _MEMBERSHIP_CACHE:
                self._member_indices.clear()
            self._member_indices[node_ids] = found
        return found

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per snapshot: arrays a decision derives from node attributes alone."""
        if key not in self._derived:
            self._derived[key] = make()
        value: T = self._derived[key]
        return value

    def rate_table(self, service_level: str) -> RateTable | None:
        return self.rate_tables.get(service_level.upper() or "STANDARD")


_MEMBERSHIP_CACHE = 256


def _caps(values: Sequence[int | None]) -> IntArray:
    return np.array([UNLIMITED if v is None else v for v in values], dtype=np.int64)
