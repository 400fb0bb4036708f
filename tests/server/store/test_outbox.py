"""The outbox's store side on both stores: events read in commit order with their per-order
sequence, the relay's lease (one holder until it expires) and its position (fenced by the lease,
never moving back). No broker here: tests/server/relay/ runs the relay against NATS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast
from unittest.mock import patch

import pytest

from engine.catalog.aliases import AliasKind, build_alias
from engine.catalog.units import ItemUnit
from engine.errors import InvalidInputError
from engine.model import Item
from server.store.base import Store
from server.store.catalog import CatalogStoreMixin
from server.store.migrate import load_migrations
from server.store.sqlite import SqliteStore
from tests.server.relay.helpers import committed_events, new_order, note, outbox

TTL = 10_000


def test_events_come_in_seq_order_with_each_orders_own_sequence(store: Store) -> None:
    new_order(store, "O-1")
    new_order(store, "O-2")
    note(store, "O-1", 1)
    note(store, "O-2", 1)
    note(store, "O-1", 2)
    box = outbox(store)
    assert box.outbox_depth(0) == 5  # numbered by their transactions (SQLite) or not yet (PostgreSQL)
    box.sequence_events()  # PostgreSQL: the relay numbers what committed first
    events = box.outbox_after(0, 100)
    assert [(e.order_id, e.order_seq, e.type) for e in events] == [
        ("O-1", 1, "ALLOCATED"),
        ("O-2", 1, "ALLOCATED"),
        ("O-1", 2, "NOTED"),
        ("O-2", 2, "NOTED"),
        ("O-1", 3, "NOTED"),
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.id for e in events] == [event_id for event_id, _ in committed_events(store)]
    assert [e.seq for e in box.outbox_after(3, 1)] == [4]
    assert box.outbox_depth(3) == 2


def test_a_followers_round_numbers_what_committed_and_reads_after_its_position(store: Store) -> None:
    new_order(store, "O-1")
    note(store, "O-1", 1)
    box = outbox(store)
    first = box.next_outbox_events(0, 100)
    assert [(e.seq, e.order_seq, e.type) for e in first] == [(1, 1, "ALLOCATED"), (2, 2, "NOTED")]
    note(store, "O-1", 2)
    new_order(store, "O-2")
    assert [(e.seq, e.order_id, e.order_seq) for e in box.next_outbox_events(2, 100)] == [(3, "O-1", 3), (4, "O-2", 1)]
    assert [e.seq for e in box.next_outbox_events(1, 2)] == [2, 3]  # at most the limit, after the position
    assert box.next_outbox_events(4, 100) == [] and box.outbox_depth(4) == 0
    assert [e.id for e in box.outbox_after(0, 100)] == [event_id for event_id, _ in committed_events(store)]


def test_sqlite_numbers_each_event_in_its_own_transaction_in_commit_order(store: Store, tmp_path: Path) -> None:
    """SQLite's single writer commits in insert order, so an event's transaction numbers it
    (migration 017): readers need no numbering write, and events written before the migration
    are numbered by it in id order."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL commits concurrent transactions out of insert order: numbered after commit")
    new_order(store, "O-1")
    note(store, "O-1", 1)
    with pytest.raises(RuntimeError):
        note(store, "O-1", 2, fail=True)  # rolled back, with its number
    note(store, "O-1", 3)
    box = outbox(store)
    assert [(e.seq, e.type, json.loads(e.payload).get("n")) for e in box.outbox_after(0, 100)] == [
        (1, "ALLOCATED", None),
        (2, "NOTED", 1),
        (3, "NOTED", 3),
    ]
    assert box.sequence_events() == 0

    older = [m for m in load_migrations("sqlite") if m.version < 17]
    with patch("server.store.common.load_migrations", return_value=older):
        legacy = SqliteStore(tmp_path / "legacy.db")
        assert legacy.migrate() == 16
    new_order(legacy, "O-1")
    note(legacy, "O-1", 1)
    assert outbox(legacy).sequence_events() == 2  # numbered after commit, as before
    note(legacy, "O-1", 2)
    note(legacy, "O-1", 3)
    assert legacy.migrate() == load_migrations("sqlite")[-1].version  # numbers the two left unnumbered
    note(legacy, "O-1", 4)
    feed = outbox(legacy).outbox_after(0, 100)
    assert [(e.seq, e.order_seq) for e in feed] == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    assert outbox(legacy).sequence_events() == 0
    legacy.close()


def test_a_change_that_rolls_back_leaves_no_event(store: Store) -> None:
    new_order(store, "O-1")
    with pytest.raises(RuntimeError):
        note(store, "O-1", 1, fail=True)
    box = outbox(store)
    box.sequence_events()
    assert [e.type for e in box.outbox_after(0, 100)] == ["ALLOCATED"]


def test_one_holder_at_a_time_until_its_lease_expires(store: Store) -> None:
    box = outbox(store)
    assert box.acquire_relay_lease("nats", "a", 1_000, TTL) == 0
    assert box.acquire_relay_lease("nats", "b", 2_000, TTL) is None  # a's lease runs until 11,000
    assert box.acquire_relay_lease("nats", "a", 5_000, TTL) == 0  # a renews
    assert box.acquire_relay_lease("nats", "b", 14_000, TTL) is None  # until 15,000 now
    assert box.acquire_relay_lease("nats", "b", 15_001, TTL) == 0  # expired: b takes it
    assert box.relay_state("nats") == (0, "b", 25_001)


def test_the_position_moves_only_forward_and_only_for_the_holder(store: Store) -> None:
    box = outbox(store)
    box.acquire_relay_lease("nats", "a", 1_000, TTL)
    assert box.advance_relay("nats", "a", 7, 2_000, TTL)
    assert box.advance_relay("nats", "a", 3, 3_000, TTL)  # an older position: kept at 7
    assert box.relay_state("nats") == (7, "a", 13_000)
    assert not box.advance_relay("nats", "b", 9, 4_000, TTL)  # not the holder
    assert not box.advance_relay("nats", "a", 9, 13_001, TTL)  # its lease ran out
    assert box.acquire_relay_lease("nats", "b", 13_002, TTL) == 7  # the next holder resumes after 7
    assert not box.advance_relay("nats", "a", 9, 13_003, TTL)  # the old holder cannot move it
    assert box.relay_state("nats") == (7, "b", 23_002)


def test_a_lease_given_up_is_taken_at_once(store: Store) -> None:
    box = outbox(store)
    box.acquire_relay_lease("nats", "a", 1_000, TTL)
    box.release_relay_lease("nats", "b")  # not b's to give
    assert box.acquire_relay_lease("nats", "b", 2_000, TTL) is None
    box.release_relay_lease("nats", "a")
    assert box.acquire_relay_lease("nats", "b", 2_000, TTL) == 0


def test_catalogue_writes_are_network_changed_events_in_their_transaction(store: Store) -> None:
    store.upsert_items([Item("A", 1.0)])
    catalogue = cast(CatalogStoreMixin, store)
    catalogue.upsert_sku_aliases([build_alias(AliasKind.CHANNEL, "web-a", "A")])
    catalogue.upsert_item_units([ItemUnit("A", "CASE", 12)])
    with pytest.raises(InvalidInputError):
        catalogue.upsert_item_units([ItemUnit("NOPE", "CASE", 12)])  # refused: rolled back, no event
    box = outbox(store)
    box.sequence_events()
    changed = [json.loads(e.payload) for e in box.outbox_after(0, 100) if e.type == "NETWORK_CHANGED"]
    assert [(c["what"], c["ids"]) for c in changed] == [
        ("items", ["A"]),
        ("sku_aliases", ["web-a"]),
        ("item_units", ["A"]),
    ]
