"""Migration 010 on both stores: orders stored by the code before it get what it adds, from their
own history (released_at from the RELEASED event, the nodes each line was reallocated away from,
shipments whose units all came back), and released orders' holds stop expiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.model import GeoPoint, Node, NodeType
from engine.orders.lifecycle import OrderState
from server.store import Store, open_store, rows
from server.store import common as store_common
from server.store.migrate import load_migrations

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BEFORE = 9  # the schema this migration upgrades


@pytest.fixture
def old_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store migrated only up to BEFORE, with the sample orders written as that code wrote them."""
    with monkeypatch.context() as patched:
        patched.setattr(store_common, "load_migrations", lambda folder: load_migrations(folder)[:BEFORE])
        opened = open_store(store_url)
        assert opened.migrate() == BEFORE
    nodes = [
        Node(n, NodeType.DC, GeoPoint(lat, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.1)
        for n, lat in (("DC1", 40.0), ("DC2", 40.0), ("DC3", 41.0))
    ]
    # The rows alone: today's upsert_nodes also bumps network_version, a later migration's table.
    _sql(opened, store_common._UPSERT_NODE, [(*rows.node_to_row(n), opened._ts_in(T0)) for n in nodes])  # type: ignore[attr-defined]
    _write_old_orders(opened)
    yield opened
    opened.close()


def _sql(store: Store, sql: str, rows: list[tuple[Any, ...]]) -> None:
    store._write(lambda tx: [tx.execute(sql, row) for row in rows])  # type: ignore[attr-defined]


def _write_old_orders(store: Store) -> None:
    ts = store._ts_in  # type: ignore[attr-defined]
    _sql(
        store,
        "INSERT INTO orders (order_id, request, state, version, hold_ms, created_at, updated_at)"
        " VALUES (?, '{}', ?, ?, 60000, ?, ?)",
        [
            # Released, then reallocated twice: the old code left it ALLOCATED on an expiring hold.
            ("R-1", "ALLOCATED", 4, ts(T0), ts(T0)),
            ("U-1", "ALLOCATED", 1, ts(T0), ts(T0)),  # never released: untouched
            ("S-1", "PARTIALLY_SHIPPED", 3, ts(T0), ts(T0)),
        ],
    )
    _sql(
        store,
        "INSERT INTO order_lines (order_id, line_id, sku, qty, shipped_qty, returned_qty) VALUES (?, ?, 'A', ?, ?, ?)",
        [
            ("R-1", "L0", 2, 0, 0),
            ("R-1", "L1", 1, 0, 0),
            ("U-1", "L0", 1, 0, 0),
            ("S-1", "L0", 2, 2, 2),
            ("S-1", "L1", 2, 1, 0),
        ],
    )
    expires = ts(T0 + timedelta(minutes=1))
    _sql(
        store,
        "INSERT INTO reservations (order_id, line_id, node_id, sku, qty, expires_at, state, created_at, updated_at)"
        " VALUES (?, ?, ?, 'A', ?, ?, ?, ?, ?)",
        [
            ("R-1", "L0", "DC2", 2, expires, "HELD", ts(T0), ts(T0)),
            ("R-1", "L1", "DC2", 1, expires, "RELEASED", ts(T0), ts(T0)),
            ("U-1", "L0", "DC1", 1, expires, "HELD", ts(T0), ts(T0)),
            ("S-1", "L1", "DC1", 1, expires, "HELD", ts(T0), ts(T0)),
        ],
    )
    released_at = T0 + timedelta(seconds=5)
    events = [
        ("R-1", "ALLOCATED", {"from": "CREATED", "to": "ALLOCATED"}, T0),
        ("R-1", "RELEASED", {"from": "ALLOCATED", "to": "RELEASED"}, released_at),
        ("R-1", "REALLOCATED", {"excluded_node": "DC1", "moved": [["L0", 2]]}, released_at + timedelta(seconds=1)),
        ("R-1", "REALLOCATED", {"excluded_node": "DC3", "moved": [["L0", 1], ["L1", 1]]}, released_at),
        ("U-1", "REALLOCATED", {"excluded_node": "DC3", "moved": [["L0", 1]]}, T0),
        ("S-1", "ALLOCATED", {}, T0),
    ]
    _sql(
        store,
        "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
        [(o, t, json.dumps(p), ts(at)) for o, t, p, at in events],
    )
    _sql(
        store,
        "INSERT INTO shipments (shipment_id, order_id, node_id, state, payload, created_at, updated_at)"
        " VALUES (?, 'S-1', 'DC1', 'SHIPPED', ?, ?, ?)",
        [
            ("ship-a", json.dumps([["L0", 2]]), ts(T0), ts(T0)),  # both units came back
            ("ship-b", json.dumps([["L1", 1]]), ts(T0), ts(T0)),  # its unit did not
        ],
    )


def test_migration_010_backfills_from_each_orders_history(old_store: Store) -> None:
    assert old_store.migrate() == load_migrations("sqlite")[-1].version  # 010 and any later
    later = T0 + timedelta(days=1)  # every HELD hold above is past its expiry by now

    released = old_store.get_order("R-1", later)  # type: ignore[attr-defined]
    assert released.released_at == T0 + timedelta(seconds=5), "the first RELEASED event"
    assert released.state is OrderState.RELEASED and released.version == 5
    assert [(r.line_id, r.state) for r in released.reservations] == [("L0", "RELEASED"), ("L1", "RELEASED")]
    assert {x.line_id: x.excluded_nodes for x in released.lines} == {"L0": ("DC1", "DC3"), "L1": ("DC3",)}

    untouched = old_store.get_order("U-1", T0)  # type: ignore[attr-defined]
    assert untouched.released_at is None and untouched.version == 1
    assert [(r.state, r.qty) for r in untouched.reservations] == [("HELD", 1)]
    assert untouched.lines[0].excluded_nodes == ("DC3",)

    shipped = old_store.get_order("S-1", T0)  # type: ignore[attr-defined]
    assert {s.shipment_id: s.state for s in shipped.shipments} == {"ship-a": "RETURNED", "ship-b": "SHIPPED"}
    assert shipped.released_at is None and [x.excluded_nodes for x in shipped.lines] == [(), ()]
