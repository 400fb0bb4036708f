"""The store port: one interface, SQLite and PostgreSQL behind it.

Both adapters pass the same contract suite (tests/server/store/test_contract.py).
Every write method is one transaction: it applies completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from engine.availability import StockLevels
from engine.model import InventoryPosition, Item, Node, NodeType
from engine.rates import RateTable


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A caller's idempotency key and the normalized hash of what it was sent with."""

    key: str
    method: str
    request_hash: str


class UpdateKind(StrEnum):
    ABSOLUTE = "ABSOLUTE"  # set on_hand to quantity, unless as_of is older than the stored count
    DELTA = "DELTA"  # add quantity (may be negative) to on_hand


class UpdateOutcome(StrEnum):
    APPLIED = "APPLIED"
    STALE_IGNORED = "STALE_IGNORED"  # an absolute count older than the stored one


@dataclass(frozen=True, slots=True)
class InventoryUpdate:
    node_id: str
    sku: str
    kind: UpdateKind
    quantity: int
    as_of: datetime | None = None  # required for ABSOLUTE; timezone-aware UTC


@dataclass(frozen=True, slots=True)
class ShortedHold:
    """Units an update took back from one order line's hold: on hand no longer covered them."""

    order_id: str
    line_id: str
    qty: int


@dataclass(frozen=True, slots=True)
class InventoryUpdateResult:
    outcome: UpdateOutcome
    position: InventoryPosition  # the stored position after the call
    shorted_units: int = 0  # reserved units this update left without stock (taken back from holds)
    shorted: tuple[ShortedHold, ...] = ()  # where they were taken from, in the order taken


@dataclass(frozen=True, slots=True)
class NodePage:
    nodes: tuple[Node, ...]
    next_page_token: str  # empty on the last page


class Store(Protocol):
    """What the service needs from persistence. Implementations are thread-safe."""

    @property
    def dialect(self) -> str: ...

    def migrate(self) -> int:
        """Apply pending numbered migrations; return the schema version now in force."""
        ...

    def schema_version(self) -> int:
        """The highest applied migration (0 on a database nothing was migrated in)."""
        ...

    def check_durability(self) -> list[str]:
        """Settings that break the durability promise (empty when all is well)."""
        ...

    def upsert_nodes(self, nodes: Sequence[Node]) -> None: ...

    def list_nodes(
        self,
        *,
        types: Sequence[NodeType] = (),
        tag: str = "",
        page_size: int = 200,
        page_token: str = "",
    ) -> NodePage:
        """Nodes ordered by id; ``page_token`` is the opaque token a previous page returned."""
        ...

    def network_version(self) -> str:
        """An opaque value that changes whenever any node or rate table is added or changed."""
        ...

    def all_nodes(self) -> list[Node]:
        """Every node, ordered by id: what the network snapshot is built from."""
        ...

    def upsert_rate_tables(self, tables: Sequence[RateTable]) -> None:
        """Create or replace rate tables by service level, in one transaction.

        Raises MissingStandardRateError (and writes nothing) when STANDARD would still be missing.
        """
        ...

    def rate_tables(self) -> list[RateTable]:
        """The stored rate tables by service level; empty means the defaults are in force."""
        ...

    def upsert_items(self, items: Sequence[Item]) -> None: ...

    def items_version(self) -> int:
        """A counter that changes whenever any item is added or changed (in the same transaction)."""
        ...

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]: ...

    def update_inventory(
        self, updates: Sequence[InventoryUpdate], now: datetime | None = None
    ) -> list[InventoryUpdateResult]:
        """Apply all updates in one transaction, in request order; results align with the request.

        An update that leaves less on hand than is reserved is applied: holds expired at ``now``
        (default: the current time) go first, then live holds give back the rest
        (engine/orders/shortfall.py), their orders recording SHORTED. Raises UnknownNodeError,
        NegativeStockError (on hand below zero) or InvalidInputError (on hand above
        limits.MAX_INVENTORY_COUNT), applying nothing, when any update is bad.
        """
        ...

    def update_inventory_once(
        self,
        key: RequestKey,
        updates: Sequence[InventoryUpdate],
        now: datetime,
        respond: Callable[[Sequence[InventoryUpdateResult]], bytes],
    ) -> tuple[bytes, list[InventoryUpdateResult] | None]:
        """``update_inventory`` once per request key: (the stored response, the results), the
        results None when this is a retry that applied nothing. IdempotencyKeyConflict when the
        key was used for another request."""
        ...

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: datetime | None = None
    ) -> list[InventoryPosition]:
        """Positions for these SKUs (at these nodes when given), ordered by (sku, node_id).

        ``reserved`` leaves out holds expired at ``now`` (default: the current time).
        """
        ...

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> StockLevels:
        """What a decision reads: ``get_availability``'s available units at every node, as columns.

        Only positions with something available come back. A decoded timestamp and an object
        per row cost more than the query on a large network (docs/profiling.md).
        """
        ...

    def shipments_since(self, since: datetime) -> dict[str, int]:
        """Per node, the orders it has reserved for or shipped since ``since`` (daily capacity caps)."""
        ...

    def close(self) -> None: ...
