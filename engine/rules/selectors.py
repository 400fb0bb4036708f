"""Node selectors evaluated on the snapshot's arrays at once (numpy), never node by node.

The per-snapshot arrays (type, region, tag membership) are built once and cached by
snapshot identity, so an evaluation costs a few vectorized comparisons per selector.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.geo import FloatArray, haversine_miles
from engine.model import Order, OrderLine
from engine.network import BoolArray, NetworkSnapshot
from engine.rules.model import Selector


@dataclass(frozen=True)
class NodeArrays:
    types: np.ndarray  # [N] str
    regions: np.ndarray  # [N] str
    ids: np.ndarray  # [N] str
    tags: dict[str, BoolArray]  # tag -> [N] membership
    snapshot: NetworkSnapshot
    static: dict[Selector, frozenset[str]] = field(default_factory=dict)  # selections no order changes

    @classmethod
    def of(cls, snapshot: NetworkSnapshot) -> NodeArrays:
        nodes = snapshot.nodes
        tags: dict[str, BoolArray] = {}
        for i, node in enumerate(nodes):
            for tag in node.tags:
                tags.setdefault(tag, np.zeros(len(nodes), dtype=np.bool_))[i] = True
        return cls(
            types=np.array([n.type.value for n in nodes], dtype=object),
            regions=np.array([n.region for n in nodes], dtype=object),
            ids=np.array([n.id for n in nodes], dtype=object),
            tags=tags,
            snapshot=snapshot,
        )

    def none(self) -> BoolArray:
        return np.zeros(len(self.snapshot), dtype=np.bool_)


_cache: dict[int, tuple[weakref.ref[NetworkSnapshot], NodeArrays]] = {}
_cache_lock = threading.Lock()


def node_arrays(snapshot: NetworkSnapshot) -> NodeArrays:
    key = id(snapshot)
    hit = _cache.get(key)
    if hit is not None and hit[0]() is snapshot:
        return hit[1]
    arrays = NodeArrays.of(snapshot)
    with _cache_lock:
        for k in [k for k, (ref, _) in _cache.items() if ref() is None]:
            del _cache[k]
        _cache[key] = (weakref.ref(snapshot), arrays)
    return arrays


Resolve = Callable[[str], str]  # an id reference such as "$line.attributes.vendor" to its value ("" if absent)


def reference_resolver(order: Order, line: OrderLine | None) -> Resolve:
    def resolve(ref: str) -> str:
        if ref == "$order.pickup_node_id":
            return order.pickup_node_id
        if ref.startswith("$order.attributes."):
            return order.attributes.get(ref.removeprefix("$order.attributes."), "")
        if ref.startswith("$line.attributes.") and line is not None:
            return line.attributes.get(ref.removeprefix("$line.attributes."), "")
        return ""

    return resolve


def select(
    selector: Selector, arrays: NodeArrays, order: Order, resolve: Resolve, distance: FloatArray | None
) -> BoolArray:
    """[N] mask of the nodes the selector picks for this order (and line, through ``resolve``)."""
    mask = np.ones(len(arrays.snapshot), dtype=np.bool_)
    if selector.types:
        mask &= np.isin(arrays.types, selector.types)
    if selector.regions:
        mask &= np.isin(arrays.regions, selector.regions)
    if selector.ids:
        ids = [resolve(i) if i.startswith("$") else i for i in selector.ids]
        mask &= np.isin(arrays.ids, [i for i in ids if i])
    if selector.tags:
        any_tag = arrays.none()
        for tag in selector.tags:
            member = arrays.tags.get(tag)
            if member is not None:
                any_tag |= member
        mask &= any_tag
    if selector.min_miles is not None or selector.max_miles is not None:
        miles = distance if distance is not None else ship_to_distance(arrays, order)
        if selector.min_miles is not None:
            mask &= miles >= selector.min_miles
        if selector.max_miles is not None:
            mask &= miles <= selector.max_miles
    if selector.exclude is not None:
        mask &= ~select(selector.exclude, arrays, order, resolve, distance)
    return mask


def ship_to_distance(arrays: NodeArrays, order: Order) -> FloatArray:
    snapshot = arrays.snapshot
    return haversine_miles(order.ship_to.lat, order.ship_to.lon, snapshot.lat, snapshot.lon)


def node_ids(arrays: NodeArrays, mask: BoolArray) -> frozenset[str]:
    return frozenset(arrays.ids[mask].tolist())


def pick(
    selector: Selector, arrays: NodeArrays, order: Order, line: OrderLine | None, distance: FloatArray | None
) -> frozenset[str]:
    """The ids of the nodes ``selector`` picks; static selections are computed once per snapshot."""
    if selector.static:
        found = arrays.static.get(selector)
        if found is None:
            found = node_ids(arrays, select(selector, arrays, order, lambda _: "", None))
            arrays.static[selector] = found
        return found
    return node_ids(arrays, select(selector, arrays, order, reference_resolver(order, line), distance))
