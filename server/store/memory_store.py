"""The whole store in memory: network, catalogue, stock and rule sets (the ``Store`` port) on top
of the orders of :class:`~server.store.memory.MemoryOrderStore`.

A real adapter, not a mock: it passes the store contract (tests/server/store/test_contract.py,
the tests that go through the port) and the order store contract beside SQLite and PostgreSQL,
so services (Allocate, Reallocate, Return, the network RPCs) are unit-tested on it without a
database (tests/server/api/services/). A batch of inventory updates is judged by the arithmetic
the SQL store uses (server/store/stock_batches.py) and network writes by the same checks
(server/store/network_checks.py). What it does not keep: durability (nothing survives the
process), the decision history, and the outbox relay's position; ``protected`` is always 0 (only
raw SQL ever set it). Daily capacity (``shipments_since``) counts an order's current holds from
the order's creation, where SQL counts each hold from the moment it was placed.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from engine import limits
from engine.availability import StockLevels
from engine.model import InventoryPosition, Item, Node, NodeType
from engine.orders.records import HELD, RELEASED
from engine.orders.shortfall import Claim, take_back
from engine.promise.model import CarrierService, NodeSchedule, carrier_services_in_force
from engine.rates import RateTable
from server.errors import NotFoundError, StoreError, UnknownNodeError
from server.store import rows
from server.store.base import InventoryUpdate, InventoryUpdateResult, NodePage, RequestKey, ShortedHold
from server.store.memory import MemoryOrderStore, _Key, _Stock, _with_holds
from server.store.memory_catalog import MemoryCatalogMixin
from server.store.network_checks import check_carrier_services, check_node_schedules, check_rate_tables
from server.store.page_tokens import decode_page_token, encode_page_token
from server.store.rule_sets import Activation, StoredRuleSet
from server.store.sql import Key
from server.store.stock_batches import (
    WorkingPosition,
    apply_in_order,
    checked_as_of,
    deal_shortfalls,
    position_after,
    raise_if_refused,
)


@dataclass
class _Network:
    nodes: dict[str, Node] = field(default_factory=dict)
    rate_tables: dict[str, RateTable] = field(default_factory=dict)
    calendars: dict[str, frozenset[date]] = field(default_factory=dict)
    carrier_services: dict[str, CarrierService] = field(default_factory=dict)
    schedules: dict[str, NodeSchedule] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    version: int = 0  # network_version: every node, rate, calendar, service or schedule write
    items_version: int = 0
    rule_sets: dict[str, StoredRuleSet] = field(default_factory=dict)
    activations: list[Activation] = field(default_factory=list)


class MemoryStore(MemoryCatalogMixin, MemoryOrderStore):
    """``Store`` and ``OrderStore`` in one process's memory, thread-safe under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._net = _Network()
        self._net_lock = threading.RLock()

    # --- what a database has and this does not ----------------------------------------------

    @property
    def dialect(self) -> str:
        return "memory"

    def migrate(self) -> int:
        return 0  # nothing to migrate: there is no schema

    def schema_version(self) -> int:
        return 0

    def check_durability(self) -> list[str]:
        return ["the memory store keeps nothing past the process: for tests, never for orders"]

    def close(self) -> None:
        return None

    # --- nodes, rates and promise data --------------------------------------------------

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            return
        with self._net_lock:
            self._net.version += 1
            self._net.nodes.update((n.id, n) for n in nodes)

    def list_nodes(
        self,
        *,
        types: Sequence[NodeType] = (),
        tag: str = "",
        page_size: int = limits.DEFAULT_PAGE_SIZE,
        page_token: str = "",
    ) -> NodePage:
        size = limits.DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, limits.MAX_PAGE_SIZE)
        after = decode_page_token(page_token) if page_token else None
        wanted = {NodeType(t) for t in types}
        found = [
            n
            for n in self.all_nodes()
            if (after is None or n.id > after) and (not wanted or n.type in wanted) and (not tag or tag in n.tags)
        ]
        page = tuple(found[:size])
        return NodePage(nodes=page, next_page_token=encode_page_token(page[-1].id) if len(found) > size else "")

    def network_version(self) -> str:
        with self._net_lock:
            return str(self._net.version)

    def all_nodes(self) -> list[Node]:
        with self._net_lock:
            return [self._net.nodes[i] for i in sorted(self._net.nodes)]  # code-point order, as SQL's ids

    def upsert_rate_tables(self, tables: Sequence[RateTable]) -> None:
        if not tables:
            return
        with self._net_lock:
            check_rate_tables({*self._net.rate_tables, *(t.service_level for t in tables)})
            self._net.version += 1
            self._net.rate_tables.update((t.service_level, t) for t in tables)

    def rate_tables(self) -> list[RateTable]:
        with self._net_lock:
            return [self._net.rate_tables[k] for k in sorted(self._net.rate_tables)]

    def upsert_holiday_calendars(self, calendars: Mapping[str, frozenset[date]]) -> None:
        if not calendars:
            return
        with self._net_lock:
            self._net.version += 1
            self._net.calendars.update(calendars)

    def holiday_calendars(self) -> dict[str, frozenset[date]]:
        with self._net_lock:
            return dict(sorted(self._net.calendars.items()))

    def upsert_carrier_services(self, services: Sequence[CarrierService]) -> None:
        if not services:
            return
        with self._net_lock:
            after = {**self._net.carrier_services, **{s.id: s for s in services}}
            check_carrier_services([after[k] for k in sorted(after)], self.node_schedules())
            self._net.version += 1
            self._net.carrier_services = after

    def carrier_services(self) -> list[CarrierService]:
        with self._net_lock:
            return [self._net.carrier_services[k] for k in sorted(self._net.carrier_services)]

    def upsert_node_schedules(self, schedules: Sequence[NodeSchedule]) -> None:
        if not schedules:
            return
        with self._net_lock:
            in_force = carrier_services_in_force(self.carrier_services(), self.rate_tables())
            check_node_schedules(schedules, self._net.nodes, in_force)
            self._net.version += 1
            self._net.schedules.update((s.node_id, s) for s in schedules)

    def node_schedules(self) -> list[NodeSchedule]:
        with self._net_lock:
            return [self._net.schedules[k] for k in sorted(self._net.schedules)]

    # --- the catalogue ------------------------------------------------------------------

    def upsert_items(self, items: Sequence[Item]) -> None:
        if not items:
            return
        with self._net_lock:
            self._net.items.update((i.sku, i) for i in items)
            self._net.items_version += 1

    def items_version(self) -> int:
        with self._net_lock:
            return self._net.items_version

    def _catalogue_items(self) -> Mapping[str, Item]:
        return self._net.items  # under _net_lock, held by the caller

    def _bump_items_version(self) -> None:
        self._net.items_version += 1  # aliases and units are the catalogue too

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        with self._net_lock:
            return {s: self._net.items[s] for s in sorted(set(skus)) if s in self._net.items}

    # --- stock ----------------------------------------------------------------------------

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: datetime | None = None
    ) -> list[InventoryPosition]:
        wanted, at = set(skus), now or rows.utc_now()
        nodes = set(node_ids)
        with self._lock:
            expired = self._expired_units(at)
            return [
                InventoryPosition(node, sku, s.on_hand, s.reserved - expired[(sku, node)], 0, s.as_of)
                for (sku, node), s in sorted(self._s.stock.items())
                if sku in wanted and (not nodes or node in nodes)
            ]

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> StockLevels:
        found = [(p.sku, p.node_id, p.available) for p in self.get_availability(skus, (), now) if p.available > 0]
        if not found:
            return StockLevels((), (), ())
        sku_column, node_column, units_column = zip(*found, strict=True)
        return StockLevels(sku_column, node_column, units_column)

    def stock_generation(self) -> int | None:
        return None  # in process: reading the stock is as cheap as checking a generation would be

    def next_hold_expiry(self, skus: Sequence[str], now: datetime) -> datetime | None:
        wanted = set(skus)
        with self._lock:
            return min(
                (
                    h.expires_at
                    for record in self._s.orders.values()
                    for h in record.reservations
                    if h.state == HELD and h.expires_at > now and h.sku in wanted
                ),
                default=None,
            )

    def _expired_units(self, now: datetime) -> defaultdict[Key, int]:
        """Units of holds past their expiry per position: available from that instant, swept or not."""
        units: defaultdict[Key, int] = defaultdict(int)
        for record in self._s.orders.values():
            for h in record.reservations:
                if h.state == HELD and h.expires_at <= now:
                    units[(h.sku, h.node_id)] += h.qty
        return units

    def shipments_since(self, since: datetime) -> dict[str, int]:
        with self._lock:
            taken: set[tuple[str, str]] = set()
            for record in self._s.orders.values():
                if record.created_at >= since:
                    taken.update((record.order_id, h.node_id) for h in record.reservations)
                taken.update((record.order_id, s.node_id) for s in record.shipments if s.created_at >= since)
        counts: dict[str, int] = defaultdict(int)
        for _, node_id in taken:
            counts[node_id] += 1
        return dict(counts)

    def update_inventory(
        self, updates: Sequence[InventoryUpdate], now: datetime | None = None
    ) -> list[InventoryUpdateResult]:
        if not updates:
            return []
        as_ofs = [checked_as_of(i, u) for i, u in enumerate(updates)]
        at = now or rows.utc_now()
        return self._atomically(lambda: self._apply_updates(updates, as_ofs, at))

    def update_inventory_once(
        self,
        key: RequestKey,
        updates: Sequence[InventoryUpdate],
        now: datetime,
        respond: Callable[[Sequence[InventoryUpdateResult]], bytes],
    ) -> tuple[bytes, list[InventoryUpdateResult] | None]:
        as_ofs = [checked_as_of(i, u) for i, u in enumerate(updates)]

        def work() -> tuple[bytes, list[InventoryUpdateResult] | None]:
            stored = self._stored(key)
            if stored is not None:
                return stored, None
            results = self._apply_updates(updates, as_ofs, now)
            response = respond(results)
            self._s.keys[key.key] = _Key(key.method, key.request_hash, response, now)
            return response, results

        return self._atomically(work)

    def _apply_updates(
        self, updates: Sequence[InventoryUpdate], as_ofs: Sequence[datetime | None], now: datetime
    ) -> list[InventoryUpdateResult]:
        with self._net_lock:
            unknown = [(i, u.node_id) for i, u in enumerate(updates) if u.node_id not in self._net.nodes]
        if unknown:
            raise UnknownNodeError([i for i, _ in unknown], [n for _, n in unknown])
        keys = sorted({(u.sku, u.node_id) for u in updates})
        applied = apply_in_order(updates, as_ofs, self._working(keys))
        raise_if_refused(updates, applied)
        if applied.short:
            # Holds past their expiry no longer count, swept or not: they give way before live ones.
            short_keys = {(updates[i].sku, updates[i].node_id) for i in applied.short}
            self._expire(now, lambda h, _: (h.sku, h.node_id) in short_keys)
            applied = apply_in_order(updates, as_ofs, self._working(keys))
        shorted = self._take_back(updates, applied.short, now) if applied.short else {}
        for key, row in applied.rows.items():
            if row.changed:
                stock = self._s.stock.setdefault(key, _Stock())
                stock.on_hand, stock.as_of = row.on_hand, row.as_of
        return [
            InventoryUpdateResult(
                outcome=outcome,
                position=position_after(u, applied.rows[(u.sku, u.node_id)]),
                shorted_units=applied.short.get(i, 0),
                shorted=shorted.get(i, ()),
            )
            for i, (u, outcome) in enumerate(zip(updates, applied.outcomes, strict=True))
        ]

    def _working(self, keys: Sequence[Key]) -> dict[Key, WorkingPosition]:
        found = {k: self._s.stock.get(k, _Stock()) for k in keys}
        return {k: WorkingPosition(s.on_hand, s.reserved, 0, s.as_of) for k, s in found.items()}

    def _take_back(
        self, updates: Sequence[InventoryUpdate], short: Mapping[int, int], now: datetime
    ) -> dict[int, tuple[ShortedHold, ...]]:
        """The SQL store's _take_back: holds give back what the updates left uncovered, in the order
        engine/orders/shortfall.py takes them; each order touched records SHORTED."""
        wanted: dict[Key, int] = defaultdict(int)
        for index, units in short.items():
            wanted[(updates[index].sku, updates[index].node_id)] += units
        claims: dict[Key, list[Claim]] = defaultdict(list)
        for order_id in sorted(self._s.orders):
            record = self._s.orders[order_id]
            for h in record.reservations:
                if (h.sku, h.node_id) in wanted:
                    priority = self._s.priority.get(order_id, 0)
                    claim = Claim(order_id, h.line_id, h.qty, h.state == RELEASED, priority, record.created_at)
                    claims[(h.sku, h.node_id)].append(claim)
        taken: dict[Key, list[tuple[Claim, int]]] = {}
        per_order: dict[str, list[list[object]]] = defaultdict(list)
        for key in sorted(wanted):
            sku, node_id = key
            taken[key] = take_back(wanted[key], claims[key])
            if sum(units for _, units in taken[key]) < wanted[key]:
                raise StoreError(f"{sku}@{node_id}: reserved is not backed by holds; run CheckConservation")
            for claim, units in taken[key]:
                self._give_back(claim.order_id, claim.line_id, node_id, units)
                per_order[claim.order_id].append([claim.line_id, node_id, units])
        for order_id in sorted(per_order):
            payload: dict[str, object] = {
                "holds": per_order[order_id],
                "reason": "stock at the node no longer covers the holds",
            }
            self._settle(order_id, now, "SHORTED", payload, None)
        return deal_shortfalls(updates, short, taken)

    def _give_back(self, order_id: str, line_id: str, node_id: str, units: int) -> None:
        record = self._s.orders[order_id]
        kept = []
        for h in record.reservations:
            if (h.line_id, h.node_id) == (line_id, node_id):
                self._s.stock[(h.sku, h.node_id)].reserved -= units
                if h.qty > units:
                    kept.append(replace(h, qty=h.qty - units))
            else:
                kept.append(h)
        self._s.orders[order_id] = _with_holds(record, kept)

    # --- rule sets ----------------------------------------------------------------------

    def save_rule_set(self, version: str, files: Sequence[tuple[str, str]], at: datetime) -> None:
        with self._net_lock:
            self._net.rule_sets.setdefault(version, StoredRuleSet(version, tuple(files), at))

    def get_rule_set(self, version: str) -> StoredRuleSet:
        with self._net_lock:
            if version not in self._net.rule_sets:
                raise NotFoundError("rule set", version, f"rule set version {version!r} is not stored")
            return self._net.rule_sets[version]

    def activate_rule_set(self, version: str, action: str, by: str, at: datetime) -> Activation:
        with self._net_lock:
            self.get_rule_set(version)
            history = self._net.activations
            if history and history[-1].version == version:
                return history[-1]  # a retried activation records nothing twice
            history.append(Activation(len(history) + 1, version, action, by, at))
            return history[-1]

    def rule_activations(self, limit: int = 50) -> list[Activation]:
        with self._net_lock:
            return list(reversed(self._net.activations))[:limit]

    def active_rule_set(self) -> Activation | None:
        latest = self.rule_activations(1)
        return latest[0] if latest else None
