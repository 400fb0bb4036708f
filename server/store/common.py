"""What both SQL adapters share: every query and the inventory-update logic.

SQL is written once with ``?`` placeholders; an adapter supplies a ``Tx`` (which
translates placeholders for its driver), its transactions, and the few fragments
that differ between dialects (list parameters, timestamps, row locks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from engine import limits
from engine.availability import StockLevels
from engine.errors import FieldViolation, InvalidInputError, Violations
from engine.model import InventoryPosition, Item, Node, NodeType
from engine.orders.records import HELD, RELEASED
from engine.orders.shortfall import Claim, take_back
from engine.promise.model import (
    CarrierService,
    NodeSchedule,
    carrier_services_in_force,
    cutoff_problems,
    serves_standard,
)
from engine.rates import DEFAULT_SERVICE_LEVEL, RateTable
from server.errors import (
    InvalidRequestError,
    MissingStandardRateError,
    NegativeStockError,
    StoreError,
    UnknownNodeError,
)
from server.store import rows
from server.store.base import (
    InventoryUpdate,
    InventoryUpdateResult,
    NodePage,
    RequestKey,
    ShortedHold,
    UpdateKind,
    UpdateOutcome,
)
from server.store.bulk_import import BulkImportStoreMixin
from server.store.capacity import CapacityStoreMixin
from server.store.decision_history import DecisionHistoryStoreMixin
from server.store.migrate import Migration, load_migrations
from server.store.orders import OrderStoreMixin
from server.store.outbox import OutboxStoreMixin
from server.store.page_tokens import decode_page_token, encode_page_token
from server.store.rule_sets import RuleSetStoreMixin
from server.store.sql import Key, Tx

T = TypeVar("T")
_UNIT_SEPARATOR = "\x1f"


def _columns(names: Sequence[str]) -> str:
    return ", ".join(names)


def _upsert_sql(table: str, columns: Sequence[str], key: str) -> str:
    # ON CONFLICT ... DO UPDATE is the one upsert SQLite, PostgreSQL and CockroachDB all run.
    all_columns = [*columns, "updated_at"]
    updates = ", ".join(f"{c} = excluded.{c}" for c in all_columns if c != key)
    marks = ", ".join("?" for _ in all_columns)
    return f"INSERT INTO {table} ({_columns(all_columns)}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


_UPSERT_NODE = _upsert_sql("nodes", rows.NODE_COLUMNS, "id")
_UPSERT_ITEM = _upsert_sql("items", rows.ITEM_COLUMNS, "sku")
_UPSERT_RATE_TABLE = _upsert_sql("rate_tables", rows.RATE_TABLE_COLUMNS, "service_level")
_UPSERT_HOLIDAY_CALENDAR = _upsert_sql("holiday_calendars", ("id", "dates"), "id")
_UPSERT_CARRIER_SERVICE = _upsert_sql("carrier_services", ("id", "body"), "id")
_UPSERT_NODE_SCHEDULE = _upsert_sql("node_schedules", ("node_id", "body"), "node_id")
# First in every transaction that changes nodes or rate tables: its row lock also queues such
# writers one behind the other, so the counter moves in commit order.
_BUMP_NETWORK_VERSION = "UPDATE network_version SET version = version + 1 WHERE id = 1"
_INSERT_EMPTY_POSITION = (
    "INSERT INTO inventory (sku, node_id, on_hand, reserved, protected, version, as_of, updated_at) "
    "VALUES (?, ?, 0, 0, 0, 0, NULL, ?) ON CONFLICT (sku, node_id) DO NOTHING"
)
_WRITE_POSITION = (
    "UPDATE inventory SET on_hand = ?, as_of = ?, version = version + 1, updated_at = ? WHERE sku = ? AND node_id = ?"
)


@dataclass(slots=True)
class _Working:
    """A locked inventory row while a batch is applied to it in memory."""

    on_hand: int
    reserved: int
    protected: int
    as_of: datetime | None
    changed: bool = False


class SqlStore(
    OrderStoreMixin,
    RuleSetStoreMixin,
    CapacityStoreMixin,
    DecisionHistoryStoreMixin,
    OutboxStoreMixin,
    BulkImportStoreMixin,
    ABC,
):
    """The Store implementation over any DB-API-like driver; subclasses supply the dialect."""

    # --- what a dialect supplies ---------------------------------------------------

    MIGRATIONS: str  # the folder under migrations/ holding this dialect's scripts
    TIMESTAMP_TYPE: str  # the column type of schema_migrations.applied_at
    ROW_LOCK: str  # appended to SELECTs that must lock the rows they read ("" where BEGIN locks)

    @property
    @abstractmethod
    def dialect(self) -> str: ...

    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` on a connection outside any explicit transaction (single-statement reads)."""

    def _read_stock(self, work: Callable[[Tx], T]) -> T:
        """``_read`` for the decision's stock read, the hottest query; a dialect may tune its connection."""
        return self._read(work)

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one write transaction (retried whole where the database asks for it)."""

    @abstractmethod
    def _migration_tx(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in a transaction that excludes every other migrator, in any process."""

    @abstractmethod
    def _script_statements(self, script: str) -> list[str]: ...

    @abstractmethod
    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A predicate ``column IN values`` taking the whole list as parameters of fixed count."""

    @abstractmethod
    def _in_keys(self, keys: Sequence[Key]) -> tuple[str, list[Any]]:
        """A predicate ``(sku, node_id) IN keys``."""

    @abstractmethod
    def _has_tag(self) -> str:
        """A predicate: the JSON array ``nodes.tags`` contains the one ``?`` parameter."""

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    @abstractmethod
    def close(self) -> None: ...

    # --- migrations ----------------------------------------------------------------

    def migrate(self) -> int:
        migrations = load_migrations(self.MIGRATIONS)
        # One transaction per migration: a failing 003 leaves 002 applied and names itself.
        while True:
            version, done = self._migration_tx(lambda tx: self._migrate_next(tx, migrations))
            if done:
                return version

    def _migrate_next(self, tx: Tx, migrations: Sequence[Migration]) -> tuple[int, bool]:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER NOT NULL PRIMARY KEY,"
            " name TEXT NOT NULL,"
            f" applied_at {self.TIMESTAMP_TYPE} NOT NULL)"
        )
        applied = {int(row[0]) for row in tx.execute("SELECT version FROM schema_migrations")}
        pending = [m for m in migrations if m.version not in applied]
        if not pending:
            # A newer schema than this code knows is fine: migrations only add (expand first).
            return max(applied, default=0), True
        step = pending[0]
        for statement in self._script_statements(step.sql):
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (step.version, step.name, self._ts_in(rows.utc_now())),
        )
        return step.version, False

    def schema_version(self) -> int:
        """The highest applied migration (0 on an empty database)."""
        return self._read(self._schema_version)

    def _schema_version(self, tx: Tx) -> int:
        if not tx.execute(self._table_exists_sql(), ("schema_migrations",)):
            return 0
        found = tx.execute("SELECT MAX(version) FROM schema_migrations")
        return int(found[0][0] or 0)

    @abstractmethod
    def _table_exists_sql(self) -> str: ...

    # --- nodes and items -----------------------------------------------------------

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.node_to_row(n), now) for n in nodes]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            tx.executemany(_UPSERT_NODE, params)

        self._write(work)

    def list_nodes(
        self,
        *,
        types: Sequence[NodeType] = (),
        tag: str = "",
        page_size: int = limits.DEFAULT_PAGE_SIZE,
        page_token: str = "",
    ) -> NodePage:
        size = limits.DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, limits.MAX_PAGE_SIZE)
        where: list[str] = []
        params: list[Any] = []
        if page_token:
            where.append("id > ?")
            params.append(decode_page_token(page_token))
        if types:
            predicate, values = self._in_list("type", [NodeType(t).value for t in types])
            where.append(predicate)
            params.extend(values)
        if tag:
            where.append(self._has_tag())
            params.append(tag)
        sql = f"SELECT {_columns(rows.NODE_COLUMNS)} FROM nodes"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # One row more than asked tells whether another page exists, so the last token is empty.
        sql += " ORDER BY id LIMIT ?"
        params.append(size + 1)
        found = self._read(lambda tx: tx.execute(sql, params))
        nodes = tuple(rows.row_to_node(r) for r in found[:size])
        token = encode_page_token(nodes[-1].id) if len(found) > size else ""
        return NodePage(nodes=nodes, next_page_token=token)

    def network_version(self) -> str:
        """Changes whenever a node or a rate table is added or changed: how each process notices
        another's upsert. A counter, not timestamps: those come from each writer's clock."""
        ((version,),) = list(self._read(lambda tx: tx.execute("SELECT version FROM network_version WHERE id = 1")))
        return str(version)

    def all_nodes(self) -> list[Node]:
        sql = f"SELECT {_columns(rows.NODE_COLUMNS)} FROM nodes ORDER BY id"
        return [rows.row_to_node(r) for r in self._read(lambda tx: tx.execute(sql))]

    def upsert_rate_tables(self, tables: Sequence[RateTable]) -> None:
        if not tables:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.rate_table_to_row(t), now) for t in tables]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            tx.executemany(_UPSERT_RATE_TABLE, params)
            # Checked inside the transaction: stored tables replace the defaults, so the first
            # write must bring STANDARD (nothing deletes a table, so it stays once there).
            found = tx.execute("SELECT COUNT(*) FROM rate_tables WHERE service_level = ?", (DEFAULT_SERVICE_LEVEL,))
            if not found[0][0]:
                raise MissingStandardRateError(DEFAULT_SERVICE_LEVEL)

        self._write(work)

    def rate_tables(self) -> list[RateTable]:
        sql = f"SELECT {_columns(rows.RATE_TABLE_COLUMNS)} FROM rate_tables ORDER BY service_level"
        return [rows.row_to_rate_table(r) for r in self._read(lambda tx: tx.execute(sql))]

    # --- promise data (docs/promise.md) ------------------------------------------------

    def upsert_holiday_calendars(self, calendars: Mapping[str, frozenset[date]]) -> None:
        if not calendars:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.holiday_calendar_to_row(name, dates), now) for name, dates in calendars.items()]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            tx.executemany(_UPSERT_HOLIDAY_CALENDAR, params)

        self._write(work)

    def holiday_calendars(self) -> dict[str, frozenset[date]]:
        found = self._read(lambda tx: tx.execute("SELECT id, dates FROM holiday_calendars ORDER BY id"))
        return dict(rows.row_to_holiday_calendar(r) for r in found)

    def upsert_carrier_services(self, services: Sequence[CarrierService]) -> None:
        if not services:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.carrier_service_to_row(s), now) for s in services]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            tx.executemany(_UPSERT_CARRIER_SERVICE, params)
            # Checked inside the transaction, on the whole stored set: it replaces the defaults, so
            # it must serve STANDARD, and every stored node's cut-offs must still be shippable.
            stored = self._carrier_services(tx)
            v = Violations()
            if not serves_standard(stored):
                v.add(
                    "carrier_services",
                    f"the stored carrier services would serve no {DEFAULT_SERVICE_LEVEL} orders: include a service "
                    f"of service_level {DEFAULT_SERVICE_LEVEL!r}, because stored services replace the defaults",
                )
            by_id = {s.id: s for s in stored}
            for schedule in self._node_schedules(tx):
                for problem in cutoff_problems(schedule, by_id):
                    if not problem.description.startswith("names unknown"):  # upserts never remove one
                        v.add("carrier_services", f"node {schedule.node_id}'s {problem.field}: {problem.description}")
            v.raise_if_any()

        self._write(work)

    def carrier_services(self) -> list[CarrierService]:
        return self._read(self._carrier_services)

    def _carrier_services(self, tx: Tx) -> list[CarrierService]:
        return [rows.row_to_carrier_service(r) for r in tx.execute("SELECT id, body FROM carrier_services ORDER BY id")]

    def upsert_node_schedules(self, schedules: Sequence[NodeSchedule]) -> None:
        if not schedules:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.node_schedule_to_row(s), now) for s in schedules]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            predicate, ids = self._in_list("id", sorted({s.node_id for s in schedules}))
            known = {r[0] for r in tx.execute(f"SELECT id FROM nodes WHERE {predicate}", ids)}
            tables = [rows.row_to_rate_table(r) for r in tx.execute(
                f"SELECT {_columns(rows.RATE_TABLE_COLUMNS)} FROM rate_tables ORDER BY service_level"
            )]  # fmt: skip
            in_force = carrier_services_in_force(self._carrier_services(tx), tables)
            v = Violations()
            for i, schedule in enumerate(schedules):
                if schedule.node_id not in known:
                    v.add(
                        f"schedules[{i}].node_id", f"names unknown node {schedule.node_id[:60]!r} (UpsertNodes first)"
                    )
                for problem in cutoff_problems(schedule, in_force):
                    v.add(f"schedules[{i}].{problem.field}", problem.description)
            v.raise_if_any()
            tx.executemany(_UPSERT_NODE_SCHEDULE, params)

        self._write(work)

    def node_schedules(self) -> list[NodeSchedule]:
        return self._read(self._node_schedules)

    def _node_schedules(self, tx: Tx) -> list[NodeSchedule]:
        found = tx.execute("SELECT node_id, body FROM node_schedules ORDER BY node_id")
        return [rows.row_to_node_schedule(r) for r in found]

    def upsert_items(self, items: Sequence[Item]) -> None:
        if not items:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.item_to_row(i), now) for i in items]

        def work(tx: Tx) -> None:
            tx.executemany(_UPSERT_ITEM, params)
            tx.execute("UPDATE catalogue_version SET version = version + 1 WHERE id = 1")

        self._write(work)

    def items_version(self) -> int:
        """Changes whenever any item is added or changed: how each worker's item cache notices another's upsert."""
        ((version,),) = list(self._read(lambda tx: tx.execute("SELECT version FROM catalogue_version WHERE id = 1")))
        return int(version)

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        if not skus:
            return {}
        predicate, params = self._in_list("sku", sorted(set(skus)))
        sql = f"SELECT {_columns(rows.ITEM_COLUMNS)} FROM items WHERE {predicate}"
        items = (rows.row_to_item(r) for r in self._read(lambda tx: tx.execute(sql, params)))
        return {item.sku: item for item in items}

    # --- inventory -----------------------------------------------------------------

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: datetime | None = None
    ) -> list[InventoryPosition]:
        found = self._positions(skus, node_ids, now)
        return [rows.row_to_position(r, self._ts_out(r[5])) for r in found]

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> StockLevels:
        if not skus:
            return StockLevels((), (), ())
        wanted = sorted(set(skus))
        expired, params = self._expired_holds(wanted, now)
        stock_in, stock_params = self._in_list("i.sku", wanted)
        # The arithmetic and the "any left" filter run in the database, so only rows worth
        # promising cross into Python, as plain tuples.
        available = "i.on_hand - i.reserved - i.protected + COALESCE(e.qty, 0)"
        sql = (
            f"SELECT i.sku, i.node_id, CAST({available} AS BIGINT) FROM inventory i {expired}"
            f" WHERE {stock_in} AND {available} > 0"
        )
        found = self._read_stock(lambda tx: tx.execute(sql, [*params, *stock_params]))
        if not found:
            return StockLevels((), (), ())
        sku_column, node_column, units_column = zip(*found, strict=True)
        return StockLevels(sku_column, node_column, units_column)

    def stocked_nodes(self, skus: Sequence[str], now: datetime | None = None) -> dict[str, list[str]]:
        if not skus:
            return {}
        wanted = sorted(set(skus))
        expired, params = self._expired_holds(wanted, now)
        stock_in, stock_params = self._in_list("i.sku", wanted)
        available = "i.on_hand - i.reserved - i.protected + COALESCE(e.qty, 0)"
        # One row per SKU, its node ids joined by the unit separator (ids hold no control
        # characters): a product page's 20 SKUs cross into Python as 20 strings, not ~400 rows.
        sql = (
            f"SELECT i.sku, {self._joined('i.node_id')} FROM inventory i {expired}"
            f" WHERE {stock_in} AND {available} > 0 GROUP BY i.sku"
        )
        found = self._read_stock(lambda tx: tx.execute(sql, [*params, *stock_params]))
        return {sku: joined.split(_UNIT_SEPARATOR) for sku, joined in found}

    @abstractmethod
    def _joined(self, column: str) -> str:
        """An aggregate joining ``column``'s values of a group with the unit separator (U+001F)."""

    def _positions(self, skus: Sequence[str], node_ids: Sequence[str], now: datetime | None) -> list[Any]:
        if not skus:
            return []
        wanted = sorted(set(skus))
        expired, params = self._expired_holds(wanted, now)
        columns = ", ".join(
            "i.reserved - COALESCE(e.qty, 0)" if c == "reserved" else f"i.{c}" for c in rows.POSITION_COLUMNS
        )
        predicate, sku_params = self._in_list("i.sku", wanted)
        params += sku_params
        sql = f"SELECT {columns} FROM inventory i {expired} WHERE {predicate}"
        if node_ids:
            node_predicate, node_params = self._in_list("i.node_id", sorted(set(node_ids)))
            sql += f" AND {node_predicate}"
            params += node_params
        sql += " ORDER BY i.sku, i.node_id"
        return list(self._read(lambda tx: tx.execute(sql, params)))

    def _expired_holds(self, skus: Sequence[str], now: datetime | None) -> tuple[str, list[Any]]:
        """A LEFT JOIN of ``inventory i`` to ``e.qty``: units of holds past their expiry per position.

        Holds past their expiry count as available from that instant, swept or not. They are few:
        one grouped aggregate joined once, not a subquery per stock row.
        """
        holds_in, holds_params = self._in_list("r.sku", skus)
        sql = (
            "LEFT JOIN (SELECT r.sku, r.node_id, CAST(SUM(r.qty) AS BIGINT) AS qty FROM reservations r"
            f" WHERE r.state = ? AND r.expires_at <= ? AND {holds_in} GROUP BY r.sku, r.node_id) e"
            " ON e.sku = i.sku AND e.node_id = i.node_id"
        )
        return sql, [HELD, self._ts_in(now or rows.utc_now()), *holds_params]

    def update_inventory(
        self, updates: Sequence[InventoryUpdate], now: datetime | None = None
    ) -> list[InventoryUpdateResult]:
        if not updates:
            return []
        as_ofs = [_checked_as_of(i, u) for i, u in enumerate(updates)]
        at = now or rows.utc_now()
        return self._write(lambda tx: self._apply_updates(tx, updates, as_ofs, at))

    def update_inventory_once(
        self,
        key: RequestKey,
        updates: Sequence[InventoryUpdate],
        now: datetime,
        respond: Callable[[Sequence[InventoryUpdateResult]], bytes],
    ) -> tuple[bytes, list[InventoryUpdateResult] | None]:
        """``update_inventory`` exactly once per request key: the response ``respond`` made of the
        results is stored with them, in the same transaction. A retry gets the stored response and
        None for results (nothing was applied again); the key used for another request raises
        IdempotencyKeyConflict. A refused batch stores nothing, so its retry is judged anew."""
        as_ofs = [_checked_as_of(i, u) for i, u in enumerate(updates)]

        def work(tx: Tx) -> tuple[bytes, list[InventoryUpdateResult] | None]:
            # The key first: a concurrent duplicate waits on it and then finds our response.
            stored = self._claim(tx, key, now)
            if stored is not None:
                return stored, None
            results = self._apply_updates(tx, updates, as_ofs, now)
            return self._finish(tx, key, respond(results)), results

        return self._write(work)

    def _apply_updates(
        self,
        tx: Tx,
        updates: Sequence[InventoryUpdate],
        as_ofs: Sequence[datetime | None],
        now: datetime,
    ) -> list[InventoryUpdateResult]:
        self._reject_unknown_nodes(tx, updates)
        locked = self._lock_positions(tx, sorted({(u.sku, u.node_id) for u in updates}), now)
        applied = _apply_in_order(updates, as_ofs, locked)
        if applied.too_large:
            raise InvalidInputError(
                [
                    FieldViolation(
                        _quantity_field(i, updates[i]),
                        f"would take on hand to {on_hand:,}, above {limits.MAX_INVENTORY_COUNT:,}"
                        " (the most an absolute count may set)",
                    )
                    for i, on_hand in applied.too_large.items()
                ]
            )
        if applied.negative:
            raise NegativeStockError(applied.negative, [_quantity_field(i, updates[i]) for i in applied.negative])
        if applied.short:
            # Holds past their expiry no longer count, swept or not: they give way before live ones.
            short_keys = sorted({(updates[i].sku, updates[i].node_id) for i in applied.short})
            self._expire(tx, now, keys=short_keys)
            predicate, params = self._in_keys(short_keys)
            for sku, node_id, reserved in tx.execute(
                f"SELECT sku, node_id, reserved FROM inventory WHERE {predicate}", params
            ):
                locked[(sku, node_id)] = replace(locked[(sku, node_id)], reserved=int(reserved))
            applied = _apply_in_order(updates, as_ofs, locked)
        shorted = self._take_back(tx, updates, applied.short, now) if applied.short else {}

        # After the holds gave way: on hand may not drop below reserved even within the transaction.
        working = applied.rows
        changed = sorted(key for key, row in working.items() if row.changed)
        if changed:
            stamp = self._ts_in(now)
            tx.executemany(
                _WRITE_POSITION,
                [(working[k].on_hand, self._ts_in(working[k].as_of), stamp, k[0], k[1]) for k in changed],
            )
        return [
            InventoryUpdateResult(
                outcome=outcome,
                position=_position(u, working[(u.sku, u.node_id)]),
                shorted_units=applied.short.get(i, 0),
                shorted=shorted.get(i, ()),
            )
            for i, (u, outcome) in enumerate(zip(updates, applied.outcomes, strict=True))
        ]

    def _take_back(
        self, tx: Tx, updates: Sequence[InventoryUpdate], short: Mapping[int, int], now: datetime
    ) -> dict[int, tuple[ShortedHold, ...]]:
        """Holds give back the units the updates left without stock (``short``: units per update
        index); each order touched records SHORTED and takes the state its quantities now imply.
        The holds taken back, per update index, in the order taken."""
        wanted: dict[Key, int] = defaultdict(int)
        for index, units in short.items():
            wanted[(updates[index].sku, updates[index].node_id)] += units
        keys = sorted(wanted)
        predicate, params = self._in_keys(keys)
        holders = [r[0] for r in tx.execute(f"SELECT DISTINCT order_id FROM reservations WHERE {predicate}", params)]
        # Lock the orders before changing their holds, in id order: a lifecycle call (Cancel, a
        # shipment) works on its order under this lock and must see the holds as left here. The
        # positions are locked already, so the holds at them cannot change meanwhile.
        orders_in, orders_params = self._in_list("order_id", sorted(holders))
        tx.execute(f"SELECT order_id FROM orders WHERE {orders_in} ORDER BY order_id{self.ROW_LOCK}", orders_params)
        claims: dict[Key, list[Claim]] = defaultdict(list)
        for sku, node_id, order_id, line_id, qty, state, priority, created_at in tx.execute(
            "SELECT r.sku, r.node_id, r.order_id, r.line_id, r.qty, r.state, o.priority, o.created_at"
            f" FROM (SELECT * FROM reservations WHERE {predicate}) r JOIN orders o ON o.order_id = r.order_id",
            params,
        ):
            claim = Claim(order_id, line_id, int(qty), state == RELEASED, int(priority), self._ts_required(created_at))
            claims[(sku, node_id)].append(claim)

        taken: dict[Key, list[tuple[Claim, int]]] = {}
        per_order: dict[str, list[list[Any]]] = defaultdict(list)
        for key in keys:
            sku, node_id = key
            taken[key] = take_back(wanted[key], claims[key])
            if sum(units for _, units in taken[key]) < wanted[key]:
                # inventory.reserved is the sum of the holds (CheckConservation says where it is not).
                raise StoreError(f"{sku}@{node_id}: reserved is not backed by holds; run CheckConservation")
            for claim, units in taken[key]:
                self._release_units(tx, claim.order_id, claim.line_id, node_id, sku, units, now)
                per_order[claim.order_id].append([claim.line_id, node_id, units])
        for order_id in sorted(per_order):
            payload = {"holds": per_order[order_id], "reason": "stock at the node no longer covers the holds"}
            self._settle(tx, order_id, now, "SHORTED", payload, None)
        return _attribute(updates, short, taken)

    def _reject_unknown_nodes(self, tx: Tx, updates: Sequence[InventoryUpdate]) -> None:
        wanted = sorted({u.node_id for u in updates})
        predicate, params = self._in_list("id", wanted)
        known = {r[0] for r in tx.execute(f"SELECT id FROM nodes WHERE {predicate}", params)}
        unknown = [(i, u.node_id) for i, u in enumerate(updates) if u.node_id not in known]
        if unknown:
            raise UnknownNodeError([i for i, _ in unknown], [n for _, n in unknown])

    def _lock_positions(self, tx: Tx, keys: Sequence[Key], now: datetime) -> dict[Key, _Working]:
        """Lock every row the batch touches, creating missing ones (at zero) first.

        Creating first means concurrent callers meet on an existing row lock instead of a
        unique-key violation; a missing row at zero behaves exactly as "no row" for both
        kinds of update, and a rejected batch rolls the new rows back with everything else.
        """
        predicate, params = self._in_keys(keys)
        select = f"SELECT {_columns(rows.POSITION_COLUMNS)} FROM inventory WHERE {predicate}"
        existing = {(r[1], r[0]) for r in tx.execute(select, params)}
        missing = [k for k in keys if k not in existing]
        if missing:
            stamp = self._ts_in(now)
            tx.executemany(_INSERT_EMPTY_POSITION, [(sku, node, stamp) for sku, node in missing])
        # Locked in (sku, node_id) order, the order reservations use too, so writers never deadlock.
        locked = tx.execute(f"{select} ORDER BY sku, node_id{self.ROW_LOCK}", params)
        return {(r[1], r[0]): _Working(int(r[2]), int(r[3]), int(r[4]), self._ts_out(r[5])) for r in locked}


@dataclass(slots=True)
class _Applied:
    """A batch applied in memory: what each update did, and every position after all of them."""

    rows: dict[Key, _Working]
    outcomes: list[UpdateOutcome] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)  # updates that would take on hand below zero
    too_large: dict[int, int] = field(default_factory=dict)  # update index -> the on hand it would set, too much
    short: dict[int, int] = field(default_factory=dict)  # update index -> reserved units it left uncovered


def _apply_in_order(
    updates: Sequence[InventoryUpdate], as_ofs: Sequence[datetime | None], locked: Mapping[Key, _Working]
) -> _Applied:
    """Apply the updates in request order to copies of the locked rows: each is judged on the
    position the ones before it left (rows are locked, so this is not read-check-write)."""
    applied = _Applied(rows={key: replace(row) for key, row in locked.items()})
    for index, (update, as_of) in enumerate(zip(updates, as_ofs, strict=True)):
        row = applied.rows[(update.sku, update.node_id)]
        if update.kind is UpdateKind.ABSOLUTE:
            assert as_of is not None  # _checked_as_of guarantees it
            if row.as_of is not None and row.as_of > as_of:
                applied.outcomes.append(UpdateOutcome.STALE_IGNORED)
                continue
            target = update.quantity
        else:
            target = row.on_hand + update.quantity
            as_of = row.as_of
        if target < 0:
            # Keep going, so the error names every bad update at once; the batch is refused.
            applied.negative.append(index)
            continue
        if target > limits.MAX_INVENTORY_COUNT:  # deltas obey the bound absolute counts do
            applied.too_large[index] = target
            continue
        if target < row.reserved:
            # What the floor says wins: the reserved units it does not cover give way (_take_back).
            applied.short[index] = row.reserved - target
            row.reserved = target
        row.on_hand, row.as_of, row.changed = target, as_of, True
        applied.outcomes.append(UpdateOutcome.APPLIED)
    return applied


def _attribute(
    updates: Sequence[InventoryUpdate], short: Mapping[int, int], taken: Mapping[Key, Sequence[tuple[Claim, int]]]
) -> dict[int, tuple[ShortedHold, ...]]:
    """The holds taken back at each position, dealt to the updates that left it short, in request
    order (two counts of one position in one batch each report their own units)."""
    queues = {key: [(claim, units) for claim, units in pairs] for key, pairs in taken.items()}
    dealt: dict[int, tuple[ShortedHold, ...]] = {}
    for index in sorted(short):
        queue = queues[(updates[index].sku, updates[index].node_id)]
        holds: list[ShortedHold] = []
        need = short[index]
        while need > 0 and queue:
            claim, units = queue[0]
            used = min(units, need)
            holds.append(ShortedHold(claim.order_id, claim.line_id, used))
            need -= used
            queue[0] = (claim, units - used)
            if units == used:
                queue.pop(0)
        dealt[index] = tuple(holds)
    return dealt


def _quantity_field(index: int, update: InventoryUpdate) -> str:
    """The request field holding the update's quantity, as the caller spelt it."""
    return f"updates[{index}].delta" if update.kind is UpdateKind.DELTA else f"updates[{index}].count.count"


def _checked_as_of(index: int, update: InventoryUpdate) -> datetime | None:
    if update.as_of is not None:
        return rows.require_utc(update.as_of, f"updates[{index}].count.as_of")
    if update.kind is UpdateKind.ABSOLUTE:
        raise InvalidRequestError("is required for an ABSOLUTE count", f"updates[{index}].count.as_of")
    return None


def _position(update: InventoryUpdate, row: _Working) -> InventoryPosition:
    return InventoryPosition(
        node_id=update.node_id,
        sku=update.sku,
        on_hand=row.on_hand,
        reserved=row.reserved,
        protected=row.protected,
        as_of=row.as_of,
    )
