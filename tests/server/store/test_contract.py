"""The store contract through the ``Store`` port: every adapter must pass all of it, the memory
store beside SQLite and PostgreSQL (``store`` runs each test on each one). What only a database
has (migrations, constraints as a backstop, durability, separate connections) is in
test_sql_contract.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.model import GeoPoint, Item, Node, NodeType
from engine.rates import RateTable
from server.store import (
    InvalidRequestError,
    InventoryUpdate,
    MissingStandardRateError,
    NegativeStockError,
    Store,
    UnknownNodeError,
    UpdateKind,
    UpdateOutcome,
    open_store,
)
from server.store.memory_store import MemoryStore

RawSql = Callable[..., list[tuple[Any, ...]]]  # the raw_sql fixture (tests/conftest.py)

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def node(node_id: str, type_: NodeType = NodeType.DC, *, tags: Sequence[str] = (), **extra: object) -> Node:
    return Node(
        id=node_id,
        type=type_,
        location=GeoPoint(40.7128, -74.006),
        pick_pack_cost=2.25,
        unit_handling_cost=0.1,
        tags=frozenset(tags),
        **extra,  # type: ignore[arg-type]
    )


def absolute(node_id: str, sku: str, qty: int, as_of: datetime = T0) -> InventoryUpdate:
    return InventoryUpdate(node_id=node_id, sku=sku, kind=UpdateKind.ABSOLUTE, quantity=qty, as_of=as_of)


def delta(node_id: str, sku: str, qty: int) -> InventoryUpdate:
    return InventoryUpdate(node_id=node_id, sku=sku, kind=UpdateKind.DELTA, quantity=qty)


def on_hand(store: Store, sku: str, node_id: str) -> int | None:
    found = [p for p in store.get_availability([sku], [node_id])]
    return found[0].on_hand if found else None


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store over each adapter, the memory one included (overrides tests/conftest.py's)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'store.db'}"
    else:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.create()
        request.addfinalizer(lambda: databases.drop(url))
    opened = open_store(url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def network(store: Store) -> Store:
    store.upsert_nodes([node("DC1"), node("DC2"), node("S1", NodeType.STORE)])
    return store


# --- migrations ------------------------------------------------------------------------


# --- nodes and items ---------------------------------------------------------------------


def test_nodes_round_trip_and_upsert_replaces(store: Store) -> None:
    full = node(
        "DC1",
        name="Newark DC",
        region="US-NJ",
        max_shipments=120,
        max_units=None,
        can_pickup=True,
        is_open=False,
        tags=["east", "hazmat-ok"],
    )
    store.upsert_nodes([full, node("S1", NodeType.STORE)])
    assert store.all_nodes() == [full, node("S1", NodeType.STORE)]

    replaced = node("DC1", NodeType.THREE_PL, max_units=7, tags=["west"])
    store.upsert_nodes([replaced])
    assert store.all_nodes() == [replaced, node("S1", NodeType.STORE)]


def test_nodes_are_ordered_by_code_point(store: Store) -> None:
    ids = ["b1", "a-1", "Z", "_x", "B2", "a1", "é"]
    store.upsert_nodes([node(i) for i in ids])
    # A locale collation would put "a-1" next to "a1" and "B2" next to "b1"; pagination needs one order.
    assert [n.id for n in store.all_nodes()] == sorted(ids)


def test_list_nodes_pages_through_everything_once(store: Store) -> None:
    ids = [f"N{i:02d}" for i in range(7)]
    store.upsert_nodes([node(i) for i in reversed(ids)])
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = store.list_nodes(page_size=3, page_token=token)
        seen.extend(n.id for n in page.nodes)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == ids
    assert pages == 3


def test_list_nodes_last_full_page_has_no_token(store: Store) -> None:
    store.upsert_nodes([node(f"N{i}") for i in range(4)])
    first = store.list_nodes(page_size=2)
    second = store.list_nodes(page_size=2, page_token=first.next_page_token)
    assert first.next_page_token
    assert [n.id for n in second.nodes] == ["N2", "N3"]
    assert second.next_page_token == ""


def test_list_nodes_filters_by_type_and_tag(store: Store) -> None:
    store.upsert_nodes(
        [
            node("A", NodeType.DC, tags=["east"]),
            node("B", NodeType.STORE, tags=["east", "mall"]),
            node("C", NodeType.STORE, tags=["west"]),
            node("D", NodeType.DROP_SHIP),
            node("E", NodeType.THREE_PL, tags=["eastern"]),  # a substring match must not count
        ]
    )

    def ids(**kwargs: object) -> list[str]:
        return [n.id for n in store.list_nodes(**kwargs).nodes]  # type: ignore[arg-type]

    assert ids(types=[NodeType.STORE]) == ["B", "C"]
    assert ids(types=[NodeType.STORE, NodeType.DROP_SHIP]) == ["B", "C", "D"]
    assert ids(tag="east") == ["A", "B"]
    assert ids(types=[NodeType.STORE], tag="east") == ["B"]
    assert ids(tag="nowhere") == []
    # Filters and pagination together.
    first = store.list_nodes(tag="east", page_size=1)
    assert [n.id for n in first.nodes] == ["A"]
    rest = store.list_nodes(tag="east", page_size=1, page_token=first.next_page_token)
    assert [n.id for n in rest.nodes] == ["B"]
    assert rest.next_page_token == ""


def test_a_forged_page_token_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRequestError):
        store.list_nodes(page_token="not base64 at all!")
    with pytest.raises(InvalidRequestError):
        store.list_nodes(page_token="aGVsbG8=")  # valid base64, not ours


def test_items_round_trip(store: Store) -> None:
    first = Item(
        sku="SKU-1",
        unit_weight_lb=1.5,
        length_in=10,
        width_in=4.25,
        height_in=2,
        hazmat=True,
        tags=frozenset({"fragile", "ünïcode"}),
        attributes={"color": "red", "size": "M"},
    )
    second = Item(sku="SKU-2", unit_weight_lb=0.0)
    store.upsert_items([first, second])
    assert store.get_items(["SKU-1", "SKU-2", "SKU-missing"]) == {"SKU-1": first, "SKU-2": second}
    assert store.get_items([]) == {}

    changed = Item(sku="SKU-1", unit_weight_lb=3.0, attributes={"color": "blue"})
    store.upsert_items([changed])
    assert store.get_items(["SKU-1"]) == {"SKU-1": changed}


# --- inventory updates ---------------------------------------------------------------------


def test_absolute_counts_set_on_hand_and_as_of(network: Store) -> None:
    berlin = timezone(timedelta(hours=2))
    results = network.update_inventory([absolute("DC1", "A", 10, T0.astimezone(berlin)), absolute("DC2", "A", 4)])
    assert [r.outcome for r in results] == [UpdateOutcome.APPLIED] * 2
    assert [r.position.on_hand for r in results] == [10, 4]

    positions = network.get_availability(["A"])
    assert [(p.node_id, p.on_hand) for p in positions] == [("DC1", 10), ("DC2", 4)]
    for p in positions:
        assert p.as_of == T0  # the same instant, to the microsecond
        assert p.as_of is not None and p.as_of.utcoffset() == timedelta(0)


def test_stale_absolute_count_is_ignored_and_reported(network: Store) -> None:
    newer = T0 + timedelta(minutes=5)
    network.update_inventory([absolute("DC1", "A", 10, newer)])

    [result] = network.update_inventory([absolute("DC1", "A", 99, T0)])

    assert result.outcome is UpdateOutcome.STALE_IGNORED
    assert (result.position.on_hand, result.position.as_of) == (10, newer)
    assert on_hand(network, "A", "DC1") == 10
    assert network.get_availability(["A"])[0].as_of == newer


def test_equal_as_of_applies_and_newer_applies(network: Store) -> None:
    network.update_inventory([absolute("DC1", "A", 10, T0)])
    [same] = network.update_inventory([absolute("DC1", "A", 11, T0)])
    assert same.outcome is UpdateOutcome.APPLIED
    assert on_hand(network, "A", "DC1") == 11
    [later] = network.update_inventory([absolute("DC1", "A", 3, T0 + timedelta(microseconds=1))])
    assert later.outcome is UpdateOutcome.APPLIED
    assert on_hand(network, "A", "DC1") == 3


def test_stale_within_one_batch_follows_request_order(network: Store) -> None:
    results = network.update_inventory(
        [absolute("DC1", "A", 5, T0 + timedelta(seconds=1)), absolute("DC1", "A", 9, T0)]
    )
    assert [r.outcome for r in results] == [UpdateOutcome.APPLIED, UpdateOutcome.STALE_IGNORED]
    assert on_hand(network, "A", "DC1") == 5


def test_deltas_create_and_add(network: Store) -> None:
    [created] = network.update_inventory([delta("DC1", "A", 7)])
    assert created.outcome is UpdateOutcome.APPLIED
    assert (created.position.on_hand, created.position.as_of) == (7, None)

    network.update_inventory([absolute("DC1", "B", 10)])
    results = network.update_inventory([delta("DC1", "A", -2), delta("DC1", "B", 5), delta("DC1", "A", 1)])
    assert [r.outcome for r in results] == [UpdateOutcome.APPLIED] * 3
    assert on_hand(network, "A", "DC1") == 6
    assert on_hand(network, "B", "DC1") == 15
    # A delta leaves the stored count time alone: it is not a count.
    assert network.get_availability(["B"])[0].as_of == T0


def test_results_align_with_request_order_and_show_the_state_after_the_call(network: Store) -> None:
    updates = [delta("S1", "Z", 1), delta("DC1", "A", 2), delta("S1", "Z", 3), delta("DC2", "M", 4)]
    results = network.update_inventory(updates)
    assert [(r.position.node_id, r.position.sku) for r in results] == [(u.node_id, u.sku) for u in updates]
    assert [r.position.on_hand for r in results] == [4, 2, 4, 4]


def test_negative_stock_rejects_the_whole_batch(network: Store) -> None:
    network.update_inventory([absolute("DC1", "A", 5)])
    batch = [absolute("DC2", "A", 50), delta("DC1", "A", -3), delta("DC1", "A", -3), delta("S1", "B", -1)]

    with pytest.raises(NegativeStockError) as raised:
        network.update_inventory(batch)

    # 5 - 3 = 2 is fine; 2 - 3 is not; a negative delta on a missing row is not either.
    assert raised.value.indexes == (2, 3)
    assert raised.value.fields == ("updates[2].delta", "updates[3].delta")
    assert on_hand(network, "A", "DC2") is None
    assert on_hand(network, "A", "DC1") == 5
    assert network.get_availability(["B"]) == []


def test_negative_absolute_count_is_rejected(network: Store) -> None:
    with pytest.raises(NegativeStockError) as raised:
        network.update_inventory([absolute("DC1", "A", -1)])
    assert raised.value.indexes == (0,)
    assert raised.value.fields == ("updates[0].count.count",)  # not "delta": what the caller sent


def test_unknown_nodes_reject_the_whole_batch(network: Store) -> None:
    batch = [absolute("DC1", "A", 5), delta("GHOST", "A", 1), absolute("DC2", "A", 1), delta("GHOST", "B", 2)]

    with pytest.raises(UnknownNodeError) as raised:
        network.update_inventory(batch)

    assert raised.value.indexes == (1, 3)
    assert raised.value.node_ids == ("GHOST", "GHOST")
    assert network.get_availability(["A", "B"]) == []


def test_absolute_without_a_timezone_aware_as_of_is_refused(network: Store) -> None:
    no_time = InventoryUpdate(node_id="DC1", sku="A", kind=UpdateKind.ABSOLUTE, quantity=1)
    with pytest.raises(InvalidRequestError, match="required") as missing:
        network.update_inventory([no_time])
    assert missing.value.field == "updates[0].count.as_of"  # what the caller's error names
    with pytest.raises(InvalidRequestError, match="timezone") as naive:
        network.update_inventory([absolute("DC1", "A", 1, datetime(2025, 1, 1))])
    assert naive.value.field == "updates[0].count.as_of"
    assert network.get_availability(["A"]) == []


def test_empty_batches_do_nothing(network: Store) -> None:
    assert network.update_inventory([]) == []
    assert network.get_availability([]) == []
    network.upsert_nodes([])
    network.upsert_items([])
    assert len(network.all_nodes()) == 3


# --- availability ------------------------------------------------------------------------------


# --- durability, concurrency, restarts ------------------------------------------------------------


def test_items_version_moves_with_every_item_upsert_and_only_then(store: Store) -> None:
    before = store.items_version()
    assert store.items_version() == before
    store.upsert_items([Item(sku="V-SKU", unit_weight_lb=1.0)])
    added = store.items_version()
    assert added != before
    store.upsert_nodes([Node("V-2", NodeType.DC, GeoPoint(40.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2)])
    assert store.items_version() == added  # nodes are not the catalogue
    store.upsert_items([Item(sku="V-SKU", unit_weight_lb=2.0)])
    assert store.items_version() != added


def test_network_version_changes_when_a_node_changes(store: Store) -> None:
    from dataclasses import replace as _replace

    before = store.network_version()
    first = Node("V-1", NodeType.DC, GeoPoint(40.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2)
    store.upsert_nodes([first])
    added = store.network_version()
    assert added != before
    store.upsert_nodes([_replace(first, is_open=False)])
    assert store.network_version() != added


@pytest.mark.parametrize("table", ["nodes", "rate_tables"])
def test_network_version_changes_for_a_write_stamped_before_the_latest(
    store: Store, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    """Another machine whose clock runs behind (or a transaction that commits after a later-stamped
    one) writes a change stamped earlier than the latest: every other process must still see it."""
    nodes = [
        Node(f"S-{i}", NodeType.DC, GeoPoint(40.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2) for i in (1, 2)
    ]
    store.upsert_nodes(nodes)
    store.upsert_rate_tables([STANDARD, TWO_DAY])
    seen = store.network_version()
    behind = datetime.now(UTC) - timedelta(hours=1)
    monkeypatch.setattr("server.store.rows.utc_now", lambda: behind)
    if table == "nodes":
        store.upsert_nodes([replace(nodes[1], is_open=False)])
    else:
        store.upsert_rate_tables([RateTable("TWO_DAY", (), (9.99,), (0.5,))])
    assert store.network_version() != seen


# --- rate tables ---------------------------------------------------------------------------


STANDARD = RateTable("STANDARD", (100.0, 400.0, 1200.0), (4.0, 5.25, 7.5, 10.0), (0.25, 0.4, 0.75, 1.1))
# Amounts no binary float holds exactly: they must still read back equal.
TWO_DAY = RateTable("TWO_DAY", (250.5,), (12.01, 16.49), (0.1, 1.35))


def test_rate_tables_round_trip_and_upsert_replaces_by_service_level(store: Store) -> None:
    assert store.rate_tables() == []  # nothing stored: the defaults are in force
    store.upsert_rate_tables([TWO_DAY, STANDARD])
    assert store.rate_tables() == [STANDARD, TWO_DAY]

    cheaper = RateTable("TWO_DAY", (), (9.99,), (0.5,))
    store.upsert_rate_tables([cheaper])  # STANDARD is stored already, so it need not come again
    assert store.rate_tables() == [STANDARD, cheaper]


def test_the_first_rate_tables_must_include_standard(store: Store) -> None:
    with pytest.raises(MissingStandardRateError):
        store.upsert_rate_tables([TWO_DAY])
    assert store.rate_tables() == []  # refused whole: nothing written
    store.upsert_rate_tables([])
    assert store.rate_tables() == []


def test_network_version_changes_when_a_rate_table_changes(store: Store) -> None:
    before = store.network_version()
    store.upsert_rate_tables([STANDARD])
    added = store.network_version()
    assert added != before
    store.upsert_rate_tables([RateTable("STANDARD", (), (5.0,), (0.5,))])
    assert store.network_version() != added
