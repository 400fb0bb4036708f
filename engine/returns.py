"""Where a return is received: the nearest open node that accepts returns, from where it starts.

Returns travel from the customer (the order's ship-to) to a node that can receive and inspect
them: distribution centres and stores. Third-party and drop-ship nodes do not take returns.
Nearest by great-circle distance, ties broken by node id so the choice is deterministic.
"""

from __future__ import annotations

import numpy as np

from engine.geo import haversine_miles
from engine.model import GeoPoint, NodeType
from engine.network import NetworkSnapshot

ACCEPTS_RETURNS = frozenset({NodeType.DC, NodeType.STORE})


def receiving_node(snapshot: NetworkSnapshot, origin: GeoPoint) -> str | None:
    """The id of the nearest open node accepting returns, or None if there is none."""
    eligible = [i for i, n in enumerate(snapshot.nodes) if n.is_open and n.type in ACCEPTS_RETURNS]
    if not eligible:
        return None
    at = np.array(eligible, dtype=np.int64)
    miles = haversine_miles(origin.lat, origin.lon, snapshot.lat[at], snapshot.lon[at])
    # nodes are sorted by id: the first minimum is the smallest id among equally near ones
    return snapshot.nodes[eligible[int(np.argmin(miles))]].id
