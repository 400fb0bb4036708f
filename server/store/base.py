"""The store ports: ``Store`` (network and stock) and ``OrderStore`` (orders, holds, request
keys, the event feed); SQLite and PostgreSQL behind both.

Both adapters pass the same contract suite (tests/server/store/test_contract.py).
Every write method is one transaction: it applies completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, cast

from engine.availability import StockLevels
from engine.catalog.aliases import SkuAlias
from engine.catalog.units import ItemUnit
from engine.decision import AllocationLine
from engine.model import InventoryPosition, Item, Node, NodeType
from engine.orders.changes import OrderChange
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import NewOrder, OrderRecord
from engine.promise.model import CarrierService, NodeSchedule
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

    def upsert_holiday_calendars(self, calendars: Mapping[str, frozenset[date]]) -> None:
        """Create or replace holiday calendars (named lists of dates) by id, in one transaction."""
        ...

    def holiday_calendars(self) -> dict[str, frozenset[date]]:
        """The stored holiday calendars by id."""
        ...

    def upsert_carrier_services(self, services: Sequence[CarrierService]) -> None:
        """Create or replace carrier services by id, in one transaction. Raises InvalidInputError
        (writing nothing) when the stored set would serve no STANDARD orders, or a stored node's
        cut-off would name a service that picks up on none of the node's working days."""
        ...

    def carrier_services(self) -> list[CarrierService]:
        """The stored carrier services by id; empty means those of the rate tables (or the defaults)."""
        ...

    def upsert_node_schedules(self, schedules: Sequence[NodeSchedule]) -> None:
        """Create or replace node schedules by node id, in one transaction. Raises InvalidInputError
        naming ``schedules[i]``'s field (writing nothing) for an unknown node or a cut-off naming a
        carrier service not in force or one that never picks up on the node's working days."""
        ...

    def node_schedules(self) -> list[NodeSchedule]:
        """The stored node schedules by node id; a node without one has the default schedule."""
        ...

    def upsert_items(self, items: Sequence[Item]) -> None: ...

    def items_version(self) -> int:
        """A counter that changes whenever any item, alias or unit is added or changed (in the same transaction)."""
        ...

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]: ...

    def upsert_sku_aliases(self, aliases: Sequence[SkuAlias], *, remap: bool = False, path: str = "aliases") -> None:
        """Channel SKUs, vendor SKUs and barcodes (normalized) naming catalogue SKUs; all or none
        (InvalidInputError naming each bad field under ``path``)."""
        ...

    def sku_aliases(self, skus: Sequence[str] = (), after: str = "", limit: int = 1000) -> list[SkuAlias]: ...

    def resolve_alias_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The SKU each stored alias among ``keys`` names."""
        ...

    def upsert_item_units(self, units: Sequence[ItemUnit], path: str = "units") -> None:
        """Units of items besides EACH, each a whole number of base units; all or none."""
        ...

    def item_units(self, skus: Sequence[str]) -> dict[str, list[ItemUnit]]: ...

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

    def stock_generation(self) -> int | None:
        """A number that differs from any earlier answer once a write to stock or holds has
        committed since (from any connection or process); equal answers mean none did. None: the
        store keeps none (the in-process store), so a reader must read the stock every time.
        Holds passing their expiry change availability with no write: see ``next_hold_expiry``."""
        ...

    def next_hold_expiry(self, skus: Sequence[str], now: datetime) -> datetime | None:
        """The earliest expiry after ``now`` of a live hold on any of ``skus`` (None: none): until
        then, with no write, ``stock_levels`` of these SKUs stays what it is at ``now``."""
        ...

    def shipments_since(self, since: datetime) -> dict[str, int]:
        """Per node, the orders it has reserved for or shipped since ``since`` (daily capacity caps)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start, end); None: no bound on that side."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a listing wants; every part given must hold."""

    states: Sequence[OrderState] = ()
    node_ids: Sequence[str] = ()  # holds units at, or has shipped from, any of them
    created: TimeWindow = TimeWindow()
    updated: TimeWindow = TimeWindow()


@dataclass(frozen=True, slots=True)
class OrderSummaryRow:
    order_id: str
    state: OrderState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HoldsMove:
    """One order's holds moved by ReoptimizePending: read at ``version`` holding ``before``,
    to hold ``after``; ``payload`` is its REOPTIMIZED event's."""

    order_id: str
    version: int
    before: tuple[AllocationLine, ...]
    after: tuple[AllocationLine, ...]
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    seq: int
    id: int
    order_id: str
    type: str
    payload: str
    created_at: datetime


Plan = Callable[[OrderRecord], OrderChange]


class OrderStore(Protocol):
    """What the order service needs from persistence: orders, their holds on stock, the request
    keys their answers are replayed from, and the event feed. Thread-safe.

    A write takes plain data (a new order, or a pure ``Plan`` of engine.orders.changes) and
    stores, under the request key in the same transaction, the answer the gRPC layer builds its
    response from (engine.orders.answers). Nothing here calls back into the caller.
    """

    def replay(self, key: RequestKey) -> bytes | None:
        """The answer stored under ``key``; None if unused; IdempotencyKeyConflict for another request."""
        ...

    def remember_response(self, key: RequestKey, response: bytes, now: datetime) -> bytes:
        """Store ``response`` under ``key`` unless a duplicate stored its own first: the stored one."""
        ...

    def allocate_order(
        self, key: RequestKey, new: NewOrder, allocations: Sequence[AllocationLine], now: datetime, attachment: bytes
    ) -> bytes:
        """Reserve ``allocations`` (all or nothing; ReservationConflict on a lost race) and store the
        order; the answer stored under ``key`` (the first call's for a duplicate)."""
        ...

    def mutate_order(
        self,
        key: RequestKey,
        order_id: str,
        action: Action,
        now: datetime,
        plan: Plan,
        attachment: bytes = b"",
        expected_version: int | None = None,
    ) -> tuple[bytes, OrderChange | None]:
        """Apply ``plan`` of the locked order, after its expired holds are freed; the answer stored
        and the change (None for a replay). ``expected_version``: compare-and-set."""
        ...

    def get_order(self, order_id: str, now: datetime) -> OrderRecord: ...

    def list_orders(self, wanted: OrderFilter, page_size: int, after: str) -> list[OrderSummaryRow]: ...

    def list_exceptions(
        self, states: Sequence[OrderState], rule_id: str, page_size: int, after: tuple[str, str] | None
    ) -> tuple[list[OrderRecord], tuple[str, str] | None]: ...

    def backordered_orders(self, skus: Sequence[str], limit: int) -> list[str]: ...

    def pending_orders(self, limit: int, skus: Sequence[str], node_ids: Sequence[str], now: datetime) -> list[str]: ...

    def move_holds(self, moves: Sequence[HoldsMove], now: datetime) -> None: ...

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]: ...

    def purge_request_keys(self, created_before: datetime, limit: int) -> int: ...

    def check_conservation(self) -> tuple[list[str], int]: ...

    def sequence_events(self) -> int: ...

    def events_after(self, cursor: int, limit: int) -> list[FeedEvent]: ...


_ORDER_METHODS = tuple(
    name for name in vars(OrderStore) if not name.startswith("_") and callable(getattr(OrderStore, name))
)


def order_store(store: object) -> OrderStore:
    """``store`` seen as an order store (duck-typed, like ``rule_set_store``: wrappers such as
    InstrumentedStore delegate by attribute); TypeError when it keeps no orders."""
    missing = [name for name in _ORDER_METHODS if not hasattr(store, name)]
    if missing:
        raise TypeError(f"{type(store).__name__} keeps no orders (lacks {', '.join(missing)})")
    return cast(OrderStore, store)


@dataclass(frozen=True, slots=True)
class ImportedCounts:
    """What a bulk import did to the rows it was given (docs/onboarding.md)."""

    written: int = 0  # created or changed
    unchanged: int = 0  # already held exactly this (a re-run of the same file)
    stale: int = 0  # stock counts older than the stored one: ignored, as UpdateInventory does

    def __add__(self, other: ImportedCounts) -> ImportedCounts:
        return ImportedCounts(self.written + other.written, self.unchanged + other.unchanged, self.stale + other.stale)


class ImportStore(Protocol):
    """Bulk imports (``oms-sourcing import``): every batch of one call in ONE transaction, so a
    file is written whole or not at all; rows already holding the same values are not written
    again, so re-importing a file changes nothing. An exception from the batches rolls back all."""

    def import_nodes(self, batches: Callable[[], Iterable[Sequence[Node]]]) -> ImportedCounts: ...

    def import_items(self, batches: Callable[[], Iterable[Sequence[Item]]]) -> ImportedCounts: ...

    def import_counts(
        self, batches: Callable[[], Iterable[Sequence[InventoryUpdate]]], now: datetime
    ) -> ImportedCounts:
        """Absolute counts (``as_of`` required). A count below what is reserved goes the way of
        ``update_inventory`` (holds give way); an unknown node raises UnknownNodeError."""
        ...

    def known_ids(self, kind: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` exist: ``kind`` is "nodes" (node ids) or "items" (SKUs)."""
        ...

    def resolve_alias_keys(self, keys: Sequence[str]) -> dict[str, str]: ...

    def item_units(self, skus: Sequence[str]) -> dict[str, list[ItemUnit]]: ...


def import_store(store: object) -> ImportStore:
    """``store`` seen as a bulk-import store; TypeError when it has no bulk import."""
    wanted = ("import_nodes", "import_items", "import_counts", "known_ids", "resolve_alias_keys", "item_units")
    missing = [name for name in wanted if not hasattr(store, name)]
    if missing:
        raise TypeError(f"{type(store).__name__} has no bulk import (lacks {', '.join(missing)})")
    return cast(ImportStore, store)
