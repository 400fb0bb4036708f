"""What both SQL adapters share: migrations, the network and the catalogue, and the mixins that
hold the rest (inventory, orders, rule sets, capacity, decision history, outbox).

SQL is written once with ``?`` placeholders; an adapter supplies a ``Tx`` (which
translates placeholders for its driver), its transactions, and the few fragments
that differ between dialects (list parameters, timestamps, row locks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from engine import limits
from engine.model import Item, Node, NodeType
from engine.promise.model import (
    CarrierService,
    NodeSchedule,
    carrier_services_in_force,
)
from engine.rates import DEFAULT_SERVICE_LEVEL, RateTable
from server.store import rows
from server.store.base import (
    NodePage,
)
from server.store.capacity import CapacityStoreMixin
from server.store.catalog import CatalogStoreMixin
from server.store.decision_history import DecisionHistoryStoreMixin
from server.store.inventory import InventoryStoreMixin
from server.store.migrate import Migration, load_migrations
from server.store.network_checks import check_carrier_services, check_node_schedules, check_rate_tables
from server.store.orders import OrderStoreMixin
from server.store.outbox import OutboxStoreMixin
from server.store.page_tokens import decode_page_token, encode_page_token
from server.store.rule_sets import RuleSetStoreMixin
from server.store.sql import Key, Tx
from server.store.system_events import NETWORK_CHANGED, append_system_event, network_change_payload

T = TypeVar("T")


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


class SqlStore(
    OrderStoreMixin,
    InventoryStoreMixin,
    RuleSetStoreMixin,
    CapacityStoreMixin,
    DecisionHistoryStoreMixin,
    OutboxStoreMixin,
    CatalogStoreMixin,
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

    def _network_changed(self, tx: Tx, what: str, ids: Sequence[str]) -> None:
        """The outbox event of a network or catalogue write, in its transaction (system_events)."""
        append_system_event(tx, self._ts_in, NETWORK_CHANGED, network_change_payload(what, ids), rows.utc_now())

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            return
        now = self._ts_in(rows.utc_now())
        params = [(*rows.node_to_row(n), now) for n in nodes]

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_NETWORK_VERSION)
            tx.executemany(_UPSERT_NODE, params)
            self._network_changed(tx, "nodes", [n.id for n in nodes])

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
            found = tx.execute(
                "SELECT service_level FROM rate_tables WHERE service_level = ?", (DEFAULT_SERVICE_LEVEL,)
            )
            check_rate_tables({str(r[0]) for r in found})  # inside the transaction: the stored set after it
            self._network_changed(tx, "rate_tables", [t.service_level for t in tables])

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
            self._network_changed(tx, "holiday_calendars", list(calendars))

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
            check_carrier_services(self._carrier_services(tx), self._node_schedules(tx))
            self._network_changed(tx, "carrier_services", [s.id for s in services])

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
            check_node_schedules(schedules, known, in_force)
            tx.executemany(_UPSERT_NODE_SCHEDULE, params)
            self._network_changed(tx, "node_schedules", [s.node_id for s in schedules])

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
            self._network_changed(tx, "items", [i.sku for i in items])

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
