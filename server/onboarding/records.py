"""What each kind of import row becomes, checked by the same code as the network file and the
Upsert RPCs (server/network_file.py's per-record checks, the engine's constructors, the order
history's reader): nodes, items, stock counts; orders are grouped by ``orders.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.model import Item, Node
from server.api.services.network import MAX_CLOCK_SKEW
from server.network_file import count_from_record, item_from_record, node_from_record
from server.onboarding.mapping import BOOL, COUNT, LIST, MONEY, NUMBER, TEXT, TIME
from server.store.base import InventoryUpdate, UpdateKind

Problem = tuple[str, str]  # (field, what is wrong with it)


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of import: its fields (name -> type), how a mapped row is built and checked, the
    key a file may hold once, and which fields name things the store must already have."""

    name: str
    fields: Mapping[str, str]
    build: Callable[[dict[str, Any], datetime | None], tuple[Any, list[Problem]]]
    key: Callable[[Any], str]
    references: tuple[tuple[str, str, Callable[[Any], str]], ...] = ()  # (field, "nodes"/"items", value)
    catalogue: bool = False  # builds CountRows whose SKU and unit the store resolves


NODE_FIELDS = {
    "id": TEXT, "type": TEXT, "name": TEXT, "region": TEXT, "lat": NUMBER, "lon": NUMBER,
    "pick_pack_cost": MONEY, "unit_handling_cost": MONEY, "max_shipments": COUNT, "max_units": COUNT,
    "can_ship": BOOL, "can_pickup": BOOL, "is_open": BOOL, "tags": LIST,
}  # fmt: skip
ITEM_FIELDS = {
    "sku": TEXT, "unit_weight_lb": NUMBER, "length_in": NUMBER, "width_in": NUMBER, "height_in": NUMBER,
    "hazmat": BOOL, "tags": LIST, "attributes.*": TEXT,
}  # fmt: skip
COUNT_FIELDS = {"node_id": TEXT, "sku": TEXT, "on_hand": COUNT, "as_of": TIME, "unit": TEXT}


def _node(record: dict[str, Any], _: datetime | None) -> tuple[Node | None, list[Problem]]:
    return node_from_record(record)


def _item(record: dict[str, Any], _: datetime | None) -> tuple[Item | None, list[Problem]]:
    return item_from_record(nest(record, "attributes"))


@dataclass(frozen=True, slots=True)
class CountRow:
    """A count as the row gives it: its SKU may be an alias and its quantity in one of the item's
    units (``unit``, "" for the base unit); run.py resolves both against the store."""

    update: InventoryUpdate
    unit: str


def _count(record: dict[str, Any], default_as_of: datetime | None) -> tuple[CountRow | None, list[Problem]]:
    problems: list[Problem] = []
    unit = record.pop("unit", None)
    if unit is not None and not isinstance(unit, str):
        problems.append(("unit", "must be a unit's name, such as EACH or CASE"))
    as_of = _as_of(record.pop("as_of", None), default_as_of, problems)
    count, found = count_from_record(record)
    problems.extend(found)
    if count is None or as_of is None or problems:
        return None, problems
    node_id, sku, on_hand = count
    return CountRow(InventoryUpdate(node_id, sku, UpdateKind.ABSOLUTE, on_hand, as_of), unit or ""), problems


def _as_of(value: Any, default: datetime | None, problems: list[Problem]) -> datetime | None:
    if value is None:
        return default
    if not isinstance(value, str):
        problems.append(("as_of", "must be an ISO 8601 time with an offset"))
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        problems.append(("as_of", f"is not an ISO 8601 time: {value[:40]!r}"))
        return None
    if when.tzinfo is None:
        problems.append(("as_of", "must include a UTC offset, e.g. 2026-12-07T06:00:00Z"))
        return None
    not_after = datetime.now(UTC) + MAX_CLOCK_SKEW  # as UpdateInventory: a count from the future would win forever
    if when > not_after:
        problems.append(("as_of", f"is in the future (after {not_after.isoformat()})"))
        return None
    return when.astimezone(UTC)


def nest(record: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``prefix.name`` fields gathered into one ``prefix`` object (values as text)."""
    inner = {k[len(prefix) + 1 :]: v for k, v in record.items() if k.startswith(prefix + ".")}
    if not inner:
        return record
    out = {k: v for k, v in record.items() if not k.startswith(prefix + ".")}
    merged = dict(out.get(prefix) or {}) if isinstance(out.get(prefix), dict) else {}
    merged.update({k: v if isinstance(v, str) else str(v) for k, v in inner.items()})
    out[prefix] = merged
    return out


KINDS: dict[str, Kind] = {
    "nodes": Kind("nodes", NODE_FIELDS, _node, key=lambda n: n.id),
    "items": Kind("items", ITEM_FIELDS, _item, key=lambda i: i.sku),
    "inventory": Kind(
        "inventory",
        COUNT_FIELDS,
        _count,
        key=lambda u: f"{u.node_id}\x1f{u.sku}",  # once resolved: an InventoryUpdate
        references=(("node_id", "nodes", lambda c: c.update.node_id),),
        catalogue=True,
    ),
}
