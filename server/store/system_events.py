"""Events about no order, appended to the outbox in the transaction of their change.

Rule activations (``RULES_ACTIVATED``), network changes (``NETWORK_CHANGED``) and counts that
short reserved stock (``STOCK_SHORTFALL``) matter to other systems as much as order changes: a
planner audit, a catalogue sync, an inventory team. Each is written to ``events`` (the outbox)
with no order id by the statement that makes the change, in the same transaction, so it is
published exactly when the change committed (the relay puts them on ``oms.v1.rules.*``,
``oms.v1.network.*``, ``oms.v1.stock.*``; docs/integrations.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.caller import with_caller

if TYPE_CHECKING:
    from server.store.sql import Tx

RULES_ACTIVATED = "RULES_ACTIVATED"
NETWORK_CHANGED = "NETWORK_CHANGED"
STOCK_SHORTFALL = "STOCK_SHORTFALL"


def append_system_event(
    tx: Tx, ts_in: Callable[[datetime], Any], event_type: str, payload: dict[str, object], at: datetime
) -> None:
    """Append one event about no order (``by``: the caller's credential, when authenticated)."""
    tx.execute(
        "INSERT INTO events (order_id, type, payload, created_at) VALUES (NULL, ?, ?, ?) RETURNING id",
        (event_type, json.dumps(with_caller(payload), sort_keys=True), ts_in(at)),
    )


MAX_IDS_IN_EVENT = 500  # a bulk load names its first ids and its count: one message stays small


def network_change_payload(what: str, ids: Sequence[str]) -> dict[str, object]:
    """``what`` changed (nodes, items, rate_tables...) and which, by id (the first 500, sorted)."""
    unique = sorted(set(ids))
    return {
        "what": what,
        "count": len(unique),
        "ids": unique[:MAX_IDS_IN_EVENT],
        "truncated": len(unique) > MAX_IDS_IN_EVENT,
    }
