"""One record at a time: a node, an item or a stock count checked exactly as a network file's
``nodes[i]``, ``items[i]`` or ``inventory[i]`` is, for imports that read rows one by one (CSV and
JSON Lines, server/onboarding). Problems are named by field alone (``lat``, not ``nodes[3].lat``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.model import Item, Node
from server.network_file.fields import Problem, _Fields
from server.network_file.nodes import _INVENTORY_FIELDS, _ITEM_FIELDS, _item, _node_itself

# The node fields a record may carry: the node itself; schedules come with network files.
NODE_RECORD_FIELDS = frozenset(
    {"id", "type", "name", "region", "lat", "lon", "pick_pack_cost", "unit_handling_cost", "max_shipments",
     "max_units", "can_ship", "can_pickup", "is_open", "tags"}
)  # fmt: skip
# An import row holds the item; its aliases and units come by the network file or their Upsert RPCs.
ITEM_RECORD_FIELDS = _ITEM_FIELDS - {"aliases", "units"}
# The unit a count is given in is resolved by the caller, against the units stored per item.
COUNT_RECORD_FIELDS = _INVENTORY_FIELDS - {"unit"}


def node_from_record(record: Mapping[str, Any]) -> tuple[Node | None, list[Problem]]:
    """(the node, []) or (None, every problem, each under its field name)."""
    problems: list[Problem] = []
    _, node = _node_itself(_Fields(record, "", problems, NODE_RECORD_FIELDS))
    return (node if not problems else None), problems


def item_from_record(record: Mapping[str, Any]) -> tuple[Item | None, list[Problem]]:
    problems: list[Problem] = []
    _, item = _item(_Fields(record, "", problems, ITEM_RECORD_FIELDS), [], [])
    return (item if not problems else None), problems


def count_from_record(record: Mapping[str, Any]) -> tuple[tuple[str, str, int] | None, list[Problem]]:
    """(node_id, sku, on_hand) or the problems; whether the node and SKU exist is the caller's to
    check (they live in the store)."""
    problems: list[Problem] = []
    f = _Fields(record, "", problems, COUNT_RECORD_FIELDS)
    node_id, sku, on_hand = f.string("node_id"), f.string("sku"), f.count("on_hand", optional=False) or 0
    # As in a file, the ids are checked by what they name: the caller's lookup in the store.
    return ((node_id, sku, on_hand) if not problems else None), problems
