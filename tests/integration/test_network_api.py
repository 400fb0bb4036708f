"""NetworkService over real gRPC: every RPC's round trip, bad input, stale counts."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest
from google.rpc import error_details_pb2

from engine import limits
from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import T0, count, delta, detail_of, item, node, usd, violations


def seed(api: Api) -> None:
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("DC-01", tags=["hazmat-certified"], max_shipments=100),
                node("ST-001", type=common_pb2.NODE_TYPE_STORE, can_pickup=True, tags=["bopis"]),
                node("ST-002", type=common_pb2.NODE_TYPE_STORE, is_open=False),
            ]
        )
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("SKU-1"), item("SKU-2", hazmat=True)]))
    api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(
            updates=[count("DC-01", "SKU-1", 10), count("ST-001", "SKU-1", 3), count("DC-01", "SKU-2", 7)]
        )
    )


def snapshot(api: Api) -> tuple[object, ...]:
    """Everything the store holds that these tests write, to prove a refused call changed nothing."""
    nodes = api.network.ListNodes(network_pb2.ListNodesRequest(page_size=1000))
    stock = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SKU-1", "SKU-2", "SKU-9"]))
    return (
        nodes.SerializeToString(deterministic=True),
        stock.SerializeToString(deterministic=True),
        tuple(sorted(api.store.get_items(["SKU-1", "SKU-2", "SKU-9", "NEW"]))),
    )


def refused(call: object, request: object, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)  # type: ignore[operator]
    assert caught.value.code() == code, caught.value.details()
    return caught.value


# --- round trips -------------------------------------------------------------------------------


def test_nodes_round_trip_with_every_field(api: Api) -> None:
    sent = node(
        "DC-01",
        type=common_pb2.NODE_TYPE_THIRD_PARTY_LOGISTICS,
        location=common_pb2.GeoPoint(lat=-33.5, lon=151.25),
        pick_pack_cost=usd(2.57),
        unit_handling_cost=usd(0.1),
        name="Sydney 3PL",
        region="AU-NSW",
        max_shipments=4600,
        max_units=0,
        can_ship=False,
        can_pickup=True,
        is_open=False,
        tags=["overflow", "au"],
    )
    reply = api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[sent]))
    assert reply.upserted_count == 1
    listed = api.network.ListNodes(network_pb2.ListNodesRequest())
    assert len(listed.nodes) == 1 and listed.next_page_token == ""
    got = listed.nodes[0]
    expected = common_pb2.Node()
    expected.CopyFrom(sent)
    del expected.tags[:]
    expected.tags.extend(["au", "overflow"])  # tags come back sorted
    assert got == expected


def test_node_defaults_when_optional_fields_are_absent(api: Api) -> None:
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("N1")]))
    got = api.network.ListNodes(network_pb2.ListNodesRequest()).nodes[0]
    assert (got.can_ship, got.can_pickup, got.is_open) == (True, False, True)
    assert not got.HasField("max_shipments") and not got.HasField("max_units")


def test_upserting_nodes_refreshes_the_network_snapshot(api: Api) -> None:
    seed(api)
    assert len(api.running.deps.network.get()) == 3
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-99")]))
    assert "DC-99" in api.running.deps.network.get().index


def test_list_nodes_pages_and_filters(api: Api) -> None:
    seed(api)
    more = [node(f"DC-{i:02d}") for i in range(2, 6)]
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=more))
    ids: list[str] = []
    token = ""
    pages = 0
    while True:
        page = api.network.ListNodes(network_pb2.ListNodesRequest(page_size=2, page_token=token))
        ids += [n.id for n in page.nodes]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert ids == sorted(ids) and len(ids) == 7 and pages == 4
    stores = api.network.ListNodes(network_pb2.ListNodesRequest(types=[common_pb2.NODE_TYPE_STORE]))
    assert [n.id for n in stores.nodes] == ["ST-001", "ST-002"]
    tagged = api.network.ListNodes(network_pb2.ListNodesRequest(tag="bopis"))
    assert [n.id for n in tagged.nodes] == ["ST-001"]


def test_items_upsert_and_replace(api: Api) -> None:
    reply = api.network.UpsertItems(
        network_pb2.UpsertItemsRequest(items=[item("SKU-1", tags=["fragile"], attributes={"category": "home"})])
    )
    assert reply.upserted_count == 1
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("SKU-1", unit_weight_lb=3.0)]))
    stored = api.store.get_items(["SKU-1"])["SKU-1"]
    assert stored.unit_weight_lb == 3.0 and stored.tags == frozenset()


def test_update_inventory_counts_and_deltas_report_positions(api: Api) -> None:
    seed(api)
    reply = api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(
            updates=[delta("DC-01", "SKU-1", 5), delta("DC-01", "SKU-1", -2), count("ST-001", "SKU-3", 4)]
        )
    )
    outcomes = [r.outcome for r in reply.results]
    assert outcomes == [network_pb2.UPDATE_OUTCOME_APPLIED] * 3
    first = reply.results[0].position
    assert (first.node_id, first.sku, first.on_hand, first.available) == ("DC-01", "SKU-1", 13, 13)
    assert first.as_of.ToDatetime().replace(tzinfo=T0.tzinfo) == T0  # deltas keep the count's as_of
    assert reply.results[2].position.on_hand == 4


def test_get_availability_by_sku_and_node(api: Api) -> None:
    seed(api)
    every = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SKU-1"]))
    assert [(p.node_id, p.on_hand, p.available) for p in every.positions] == [("DC-01", 10, 10), ("ST-001", 3, 3)]
    one = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SKU-1", "SKU-2"], node_ids=["DC-01"]))
    assert [(p.sku, p.on_hand) for p in one.positions] == [("SKU-1", 10), ("SKU-2", 7)]
    none = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["NEVER"]))
    assert list(none.positions) == []


# --- stale counts ------------------------------------------------------------------------------


def test_a_stale_count_never_overwrites_a_newer_one_and_is_reported(api: Api) -> None:
    seed(api)
    newer = T0 + timedelta(hours=2)
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("DC-01", "SKU-1", 42, newer)]))
    reply = api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(
            updates=[count("DC-01", "SKU-1", 5, T0 + timedelta(hours=1)), count("ST-001", "SKU-1", 9, newer)]
        )
    )
    stale, fresh = reply.results
    assert stale.outcome == network_pb2.UPDATE_OUTCOME_STALE_IGNORED
    assert stale.stored_as_of.ToDatetime().replace(tzinfo=newer.tzinfo) == newer
    assert stale.position.on_hand == 42
    assert fresh.outcome == network_pb2.UPDATE_OUTCOME_APPLIED and fresh.position.on_hand == 9
    stock = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SKU-1"], node_ids=["DC-01"]))
    assert stock.positions[0].on_hand == 42


# --- bad input: INVALID_ARGUMENT naming every bad field, and nothing changed ----------------------


def test_unknown_node_is_named_and_nothing_is_applied(api: Api) -> None:
    seed(api)
    before = snapshot(api)
    request = network_pb2.UpdateInventoryRequest(
        updates=[delta("DC-01", "SKU-1", 1), count("NOPE", "SKU-1", 1), delta("ALSO-NOPE", "SKU-2", 1)]
    )
    error = refused(api.network.UpdateInventory, request)
    assert set(violations(error)) == {"updates[1].node_id", "updates[2].node_id"}
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("update", "field"),
    [
        (count("DC-01", "SKU-1", -1), "updates[0].count.count"),
        (count("DC-01", "SKU-1", limits.MAX_INVENTORY_COUNT + 1), "updates[0].count.count"),
        (delta("DC-01", "SKU-1", -(10**15)), "updates[0].delta"),
        (count("DC-01", "", 1), "updates[0].sku"),
        (delta("", "SKU-1", 1), "updates[0].node_id"),
        (network_pb2.InventoryUpdate(node_id="DC-01", sku="SKU-1"), "updates[0].change"),
        (count("DC-01", "SKU-1", 1, T0 + timedelta(days=3650)), "updates[0].count.as_of"),
    ],
    ids=["negative", "absurd", "absurd-delta", "no-sku", "no-node", "no-change", "future"],
)
def test_bad_inventory_updates(api: Api, update: network_pb2.InventoryUpdate, field: str) -> None:
    seed(api)
    before = snapshot(api)
    error = refused(api.network.UpdateInventory, network_pb2.UpdateInventoryRequest(updates=[update]))
    assert field in violations(error)
    assert snapshot(api) == before


def test_absolute_count_without_as_of(api: Api) -> None:
    seed(api)
    update = network_pb2.InventoryUpdate(node_id="DC-01", sku="SKU-1", count=network_pb2.AbsoluteCount(count=3))
    error = refused(api.network.UpdateInventory, network_pb2.UpdateInventoryRequest(updates=[update]))
    assert "updates[0].count.as_of" in violations(error)


def test_every_bad_node_field_is_named(api: Api) -> None:
    seed(api)
    before = snapshot(api)
    nodes = [
        node("OK-1"),
        node("", location=common_pb2.GeoPoint(lat=91.0, lon=-181.0)),
        node("NAN", location=common_pb2.GeoPoint(lat=math.nan, lon=math.inf)),
        common_pb2.Node(id="BARE"),
        node("COST", pick_pack_cost=usd(-1), unit_handling_cost=common_pb2.Money(currency_code="EUR")),
        node("OK-1", max_shipments=-5, tags=["x" * 200]),
    ]
    error = refused(api.network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=nodes))
    assert set(violations(error)) >= {
        "nodes[1].id",
        "nodes[1].location.lat",
        "nodes[1].location.lon",
        "nodes[2].location.lat",
        "nodes[2].location.lon",
        "nodes[3].type",
        "nodes[3].location",
        "nodes[3].pick_pack_cost",
        "nodes[3].unit_handling_cost",
        "nodes[4].pick_pack_cost.amount_micros",
        "nodes[4].unit_handling_cost.currency_code",
        "nodes[5].id",  # a duplicate of nodes[0]
        "nodes[5].max_shipments",
        "nodes[5].tags",
    }
    assert "OK-1" not in [n.id for n in api.network.ListNodes(network_pb2.ListNodesRequest()).nodes]
    assert snapshot(api) == before


def test_too_many_entries_in_one_call(api: Api) -> None:
    seed(api)
    before = snapshot(api)
    items = [item(f"S-{i}") for i in range(limits.MAX_ITEMS_PER_CALL + 1)]
    error = refused(api.network.UpsertItems, network_pb2.UpsertItemsRequest(items=items))
    assert "items" in violations(error)
    updates = [delta("DC-01", f"S-{i}", 1) for i in range(limits.MAX_INVENTORY_UPDATES_PER_CALL + 1)]
    error = refused(api.network.UpdateInventory, network_pb2.UpdateInventoryRequest(updates=updates))
    assert "updates" in violations(error)
    error = refused(api.network.GetAvailability, network_pb2.GetAvailabilityRequest(skus=["S"] * 1001))
    assert "skus" in violations(error)
    assert snapshot(api) == before


def test_thousands_of_bad_entries_still_get_a_readable_answer(api: Api) -> None:
    updates = [count("DC-01", "", -1) for _ in range(limits.MAX_INVENTORY_UPDATES_PER_CALL)]
    error = refused(api.network.UpdateInventory, network_pb2.UpdateInventoryRequest(updates=updates))
    found = violations(error)
    assert "updates[0].sku" in found and "updates[0].count.count" in found
    assert any("more violations" in text for text in found.values())


def test_empty_and_malformed_requests(api: Api) -> None:
    for call, request, field in [
        (api.network.UpsertNodes, network_pb2.UpsertNodesRequest(), "nodes"),
        (api.network.UpsertItems, network_pb2.UpsertItemsRequest(items=[item("", unit_weight_lb=-1)]), "items[0].sku"),
        (api.network.UpdateInventory, network_pb2.UpdateInventoryRequest(), "updates"),
        (api.network.GetAvailability, network_pb2.GetAvailabilityRequest(), "skus"),
        (api.network.GetAvailability, network_pb2.GetAvailabilityRequest(skus=["A", ""]), "skus[1]"),
        (api.network.ListNodes, network_pb2.ListNodesRequest(page_size=5000), "page_size"),
        (api.network.ListNodes, network_pb2.ListNodesRequest(page_token="garbage!"), "page_token"),
        (api.network.ListNodes, network_pb2.ListNodesRequest(types=[common_pb2.NODE_TYPE_UNSPECIFIED]), "types[0]"),
    ]:
        assert field in violations(refused(call, request)), field


def test_stock_below_zero_is_a_failed_precondition_and_changes_nothing(api: Api) -> None:
    seed(api)
    before = snapshot(api)
    request = network_pb2.UpdateInventoryRequest(updates=[delta("DC-01", "SKU-1", 1), delta("ST-001", "SKU-1", -4)])
    error = refused(api.network.UpdateInventory, request, grpc.StatusCode.FAILED_PRECONDITION)
    failure = detail_of(error, error_details_pb2.PreconditionFailure)
    assert [v.subject for v in failure.violations] == ["updates[1].delta"]
    assert snapshot(api) == before


def test_deltas_may_not_take_on_hand_past_the_largest_count(api: Api) -> None:
    """Repeated +1,000,000,000 deltas once raised on hand to 9,000,000,000, a count no absolute
    update may set: the bound holds for the sum too, and the call that breaks it applies nothing."""
    seed(api)
    most = limits.MAX_INVENTORY_COUNT
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("DC-01", "SKU-1", most - 10)]))
    assert _on_hand(api, "DC-01", "SKU-1") == most  # up to the bound is fine
    before = snapshot(api)
    request = network_pb2.UpdateInventoryRequest(
        updates=[delta("DC-01", "SKU-2", 1), delta("DC-01", "SKU-1", 1), delta("ST-001", "SKU-1", most)]
    )
    error = refused(api.network.UpdateInventory, request)
    assert list(violations(error)) == ["updates[1].delta", "updates[2].delta"], error.details()
    assert snapshot(api) == before  # the first, valid delta was not applied either
    # Within one call too: each delta is judged on what the ones before it left.
    request = network_pb2.UpdateInventoryRequest(
        updates=[delta("ST-001", "SKU-1", most - 3), delta("ST-001", "SKU-1", 1)]
    )
    assert list(violations(refused(api.network.UpdateInventory, request))) == ["updates[1].delta"]
    assert snapshot(api) == before


# --- control characters: INVALID_ARGUMENT naming the field on both stores ----------------------
# PostgreSQL's text cannot hold NUL: these calls used to fail there with INTERNAL while SQLite
# stored the id. Every other control character is refused in ids too (tabs and line breaks are
# allowed only in free text such as a node's name).


@pytest.mark.parametrize(
    "bad", ["A\x00B", "A\x1b[31mB", "A\tB", "A\x7fB", "A\x85B"], ids=["nul", "esc", "tab", "del", "c1"]
)
def test_control_characters_in_ids_are_named_and_nothing_is_written(api: Api, bad: str) -> None:
    seed(api)
    before = snapshot(api)
    cases: list[tuple[object, object, str]] = [
        (api.network.UpsertItems, network_pb2.UpsertItemsRequest(items=[item("OK"), item(bad)]), "items[1].sku"),
        (api.network.UpsertItems, network_pb2.UpsertItemsRequest(items=[item("NEW", tags=[bad])]), "items[0].tags"),
        (
            api.network.UpsertItems,
            network_pb2.UpsertItemsRequest(items=[item("NEW", attributes={bad: "v"})]),
            f"items[0].attributes[{bad!r}]",
        ),
        (api.network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=[node(bad)]), "nodes[0].id"),
        (api.network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=[node("N", tags=[bad])]), "nodes[0].tags"),
        (api.network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=[node("N", region=bad)]), "nodes[0].region"),
        (
            api.network.UpdateInventory,
            network_pb2.UpdateInventoryRequest(updates=[count("DC-01", "SKU-1", 4), count("DC-01", bad, 1)]),
            "updates[1].sku",
        ),
        (
            api.network.UpdateInventory,
            network_pb2.UpdateInventoryRequest(updates=[delta(bad, "SKU-1", 1)]),
            "updates[0].node_id",
        ),
        (api.network.GetAvailability, network_pb2.GetAvailabilityRequest(skus=["SKU-1", bad]), "skus[1]"),
        (
            api.network.GetAvailability,
            network_pb2.GetAvailabilityRequest(skus=["SKU-1"], node_ids=[bad]),
            "node_ids[0]",
        ),
        (api.network.ListNodes, network_pb2.ListNodesRequest(tag=bad), "tag"),
    ]
    for call, request, field in cases:
        found = violations(refused(call, request))
        assert field in found, (field, found)
        assert "control characters" in found[field]
    assert snapshot(api) == before


def test_free_text_keeps_line_breaks_but_not_nul(api: Api) -> None:
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("N", name="Dock 4\nrear\tgate")]))
    assert api.network.ListNodes(network_pb2.ListNodesRequest()).nodes[0].name == "Dock 4\nrear\tgate"
    error = refused(api.network.UpsertNodes, network_pb2.UpsertNodesRequest(nodes=[node("N", name="Dock\x00")]))
    assert "U+0000" in violations(error)["nodes[0].name"]


# --- exactly once: UpdateInventory's request_key ---------------------------------------------


def _keyed(key: str, *updates: network_pb2.InventoryUpdate) -> network_pb2.UpdateInventoryRequest:
    return network_pb2.UpdateInventoryRequest(request_key=key, updates=list(updates))


def _on_hand(api: Api, node_id: str, sku: str) -> int:
    stock = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=[sku], node_ids=[node_id]))
    return sum(p.on_hand for p in stock.positions)


def test_a_retried_delta_with_its_key_counts_once_and_replays_the_same_bytes(api: Api) -> None:
    seed(api)
    request = _keyed("wms-batch-1", delta("DC-01", "SKU-1", 5), count("ST-001", "SKU-1", 7))
    first = api.network.UpdateInventory(request).SerializeToString()
    for _ in range(49):
        assert api.network.UpdateInventory(request).SerializeToString() == first
    assert (_on_hand(api, "DC-01", "SKU-1"), _on_hand(api, "ST-001", "SKU-1")) == (15, 7)
    # Without a key every call applies, as before.
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("DC-01", "SKU-1", 1)]))
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("DC-01", "SKU-1", 1)]))
    assert _on_hand(api, "DC-01", "SKU-1") == 17


def test_the_same_key_for_another_request_is_already_exists_and_changes_nothing(api: Api) -> None:
    seed(api)
    api.network.UpdateInventory(_keyed("k", delta("DC-01", "SKU-1", 5)))
    before = snapshot(api)
    error = refused(
        api.network.UpdateInventory, _keyed("k", delta("DC-01", "SKU-1", 6)), grpc.StatusCode.ALREADY_EXISTS
    )
    info = detail_of(error, error_details_pb2.ResourceInfo)
    assert (info.resource_type, info.resource_name) == ("request_key", "k")
    assert snapshot(api) == before
    # Keys share one space with the order service's: an order call cannot reuse it either.
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    with pytest.raises(grpc.RpcError) as raised:
        orders.Release(orders_pb2.ReleaseRequest(request_key="k", order_id="O-1"))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_sixteen_concurrent_duplicates_have_one_effect(api: Api) -> None:
    seed(api)
    request = _keyed("racing", delta("DC-01", "SKU-1", 1), delta("DC-01", "SKU-2", -1))
    start = threading.Barrier(16)

    def call(_: int) -> bytes:
        start.wait()
        return api.network.UpdateInventory(request, timeout=30).SerializeToString()

    with ThreadPoolExecutor(16) as pool:
        answers = set(pool.map(call, range(16)))
    assert len(answers) == 1
    assert (_on_hand(api, "DC-01", "SKU-1"), _on_hand(api, "DC-01", "SKU-2")) == (11, 6)


def test_a_refused_call_stores_nothing_under_its_key(api: Api) -> None:
    seed(api)
    request = _keyed("retry-me", delta("ST-001", "SKU-1", -5))  # 3 on hand
    refused(api.network.UpdateInventory, request, grpc.StatusCode.FAILED_PRECONDITION)
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("ST-001", "SKU-1", 4)]))
    reply = api.network.UpdateInventory(request)  # judged anew now that the stock is there
    assert reply.results[0].position.on_hand == 2
    assert api.network.UpdateInventory(request) == reply and _on_hand(api, "ST-001", "SKU-1") == 2


def test_a_bad_key_is_named_with_the_other_bad_fields(api: Api) -> None:
    seed(api)
    before = snapshot(api)
    for key in ("k\x00", "x" * 129, "  "):
        error = refused(api.network.UpdateInventory, _keyed(key, count("DC-01", "", 1)))
        assert set(violations(error)) == {"request_key", "updates[0].sku"}, key
    assert snapshot(api) == before
