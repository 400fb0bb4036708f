"""A promise per line (docs/promise.md, "A promise per line"): which lines each node holding stock
may ship under their own promises, as exclusions the search already honours.

Lines promised differently (their own carrier service or date, the order's the default) cannot
all be judged by one option per node. Before the search each node holding stock for some line
gets its option for the lines it holds (``ShipOptions.hold``, the option keeping the most of their
promises, then the cheapest); a line whose promise that option does not keep is excluded at that
node for that line, with why. Both search paths and their explanations read line exclusions as
they read a rule's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from engine.availability import StockLevels
from engine.directives import Directives
from engine.geo import haversine_miles
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.promise.shipping import ShipOptions, line_exclusions


def held_lines(
    order: Order, node_ids: Sequence[str], skus: Sequence[str], units: npt.NDArray[np.int64]
) -> dict[str, list[int]]:
    """Per node id, the positions of the lines whose SKU it has available (``units[k, n]`` of ``skus[k]``)."""
    row = {sku: k for k, sku in enumerate(skus)}
    held: dict[str, list[int]] = {}
    for position, line in enumerate(order.lines):
        k = row.get(line.sku)
        if k is None:
            continue
        for n in np.flatnonzero(units[k] > 0).tolist():
            held.setdefault(node_ids[n], []).append(position)
    return held


def held_lines_from_levels(order: Order, levels: StockLevels) -> dict[str, list[int]]:
    """``held_lines`` from stock levels as a store reads them."""
    at: dict[str, list[str]] = {}
    for sku, node_id, units in zip(levels.skus, levels.node_ids, levels.units, strict=True):
        if units > 0:
            at.setdefault(sku, []).append(node_id)
    held: dict[str, list[int]] = {}
    for position, line in enumerate(order.lines):
        for node_id in at.get(line.sku, ()):
            held.setdefault(node_id, []).append(position)
    return held


def keep_line_promises(
    order: Order, snapshot: NetworkSnapshot, options: ShipOptions, directives: Directives, held: dict[str, list[int]]
) -> Directives:
    """``directives`` plus, per node, the lines its option does not keep the promise of."""
    known = sorted(node_id for node_id in held if node_id in snapshot.index)
    held = {node_id: held[node_id] for node_id in known}
    options.hold(held)
    rows = np.array([snapshot.index[node_id] for node_id in known], dtype=np.int64)
    miles = haversine_miles(order.ship_to.lat, order.ship_to.lon, snapshot.lat[rows], snapshot.lon[rows]).tolist()
    exclusions = line_exclusions(options, dict(zip(known, miles, strict=True)))
    if not exclusions:
        return directives
    return replace(directives, exclusions=(*directives.exclusions, *exclusions))
