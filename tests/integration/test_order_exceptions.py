"""The exception queue and backorders that heal, over real gRPC on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pytest

from server.api.proto import (
    common_pb2,
    network_pb2,
    orders_pb2,
    rules_pb2,
    rules_pb2_grpc,
)
from server.api.services.resourcing import HEAL_MAX_ORDERS
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import T0, count, delta, node, violations
from tests.integration.orders_helpers import Client, allocate, order, payload_of, serve_orders, state
from tests.integration.test_orders_api import code_of

STOCK = [("NEAR", "A", 3), ("FAR", "A", 10), ("NEAR", "B", 2), ("MID", "B", 5), ("FAR", "C", 4)]
HOLD_RULE = (
    "rules:\n  - id: fraud-hold\n    when: {order: {attributes: {fraud_score: {gte: 80}}}}\n"
    "    then: {hold: {reason: fraud score of 80 or more}}\n"
)


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    rules = rules_pb2_grpc.RulesServiceStub(client.channel)
    rules.ActivateRules(
        rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="r.yaml", content=HOLD_RULE)], activated_by="t")
    )
    yield client
    client.channel.close()


def _suspicious(order_id: str) -> orders_pb2.AllocateRequest:
    return allocate(order(order_id, ("A", 2), attributes={"fraud_score": "95"}))


def _exceptions(client: Client, *states: int, rule_id: str = "") -> list[tuple[str, str, str]]:
    found = client.orders.ListExceptions(orders_pb2.ListExceptionsRequest(states=states, rule_id=rule_id))
    return [(x.order_id, state(x), x.reason) for x in found.orders]  # type: ignore[arg-type]


def test_a_held_order_reserves_nothing_until_a_person_releases_it(client: Client) -> None:
    held = client.orders.Allocate(_suspicious("O-1"))
    assert state(held.order) == "HELD" and not held.order.reservations
    assert [h.rule_id for h in held.decision.holds] == ["fraud-hold"]
    assert held.decision.allocations  # the decision still says what it would have done
    assert client.available("A", "NEAR") == 3
    # Its units await a person's review: nothing reserved, and not waiting for stock.
    line = held.order.lines[0]
    assert (line.reserved, line.backordered, line.awaiting_review) == (0, 0, 2)
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.lines[0] == line
    reason = "held for review by rule fraud-hold (fraud score of 80 or more): nothing reserved"
    assert _exceptions(client) == [("O-1", "HELD", reason)]
    listed = client.orders.ListExceptions(orders_pb2.ListExceptionsRequest()).orders[0]
    assert (listed.backordered_units, listed.awaiting_review_units) == (0, 2)
    assert _exceptions(client, rule_id="other") == []
    # Held: not allowed to ship or hand over; reallocating needs a release first.
    release = orders_pb2.ReleaseRequest(request_key="r0", order_id="O-1")
    assert code_of(lambda: client.orders.Release(release)) == grpc.StatusCode.FAILED_PRECONDITION

    approve = orders_pb2.ReleaseHoldRequest(request_key="h1", order_id="O-1", approved_by="ann", reason="called them")
    released = client.orders.ReleaseHold(approve)
    assert state(released.order) == "ALLOCATED"
    assert [(r.node_id, r.qty) for r in released.order.reservations] == [("NEAR", 2)]
    assert client.available("A", "NEAR") == 1
    event = released.order.events[-1]
    payload = payload_of(event)
    assert event.type == "HOLD_RELEASED" and (payload["approved_by"], payload["reason"]) == ("ann", "called them")
    assert payload["from"] == "HELD" and payload["to"] == "ALLOCATED"
    # Exactly once: the same key replays; the order is no longer in the queue nor releasable.
    assert client.orders.ReleaseHold(approve) == released
    again = orders_pb2.ReleaseHoldRequest(request_key="h2", order_id="O-1", approved_by="ann")
    assert code_of(lambda: client.orders.ReleaseHold(again)) == grpc.StatusCode.FAILED_PRECONDITION
    assert _exceptions(client) == []
    assert client.conservation() == []


def test_a_held_order_can_be_cancelled_and_release_needs_who(client: Client) -> None:
    client.orders.Allocate(_suspicious("O-1"))
    anonymous = orders_pb2.ReleaseHoldRequest(request_key="h1", order_id="O-1")
    assert code_of(lambda: client.orders.ReleaseHold(anonymous)) == grpc.StatusCode.INVALID_ARGUMENT
    cancelled = client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1", reason="fraud")).order
    assert state(cancelled) == "CANCELLED" and [e.type for e in cancelled.events] == ["HELD", "CANCELLED"]
    assert _exceptions(client) == [] and client.conservation() == []


def test_backorders_wait_in_the_queue_and_heal_oldest_first_when_stock_arrives(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 7))))
    client.clock.advance(seconds=1)
    client.orders.Allocate(allocate(order("O-2", ("B", 2))))
    client.clock.advance(seconds=1)
    client.orders.Allocate(allocate(order("O-3", ("B", 1))))
    assert _exceptions(client) == [
        ("O-2", "BACKORDERED", "waiting for stock: 2 x B"),
        ("O-3", "BACKORDERED", "waiting for stock: 1 x B"),
    ]
    # Two units arrive: the oldest order takes them, the younger keeps waiting.
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "B", 2)]))
    healed = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-2")).order
    assert state(healed) == "ALLOCATED" and healed.events[-1].type == "RESOURCED"
    assert payload_of(healed.events[-1])["allocations"] == [["L0", "MID", 2]]
    waiting = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-3")).order
    assert state(waiting) == "BACKORDERED" and len(waiting.events) == 1

    # A stale count changes nothing and heals nothing.
    stale = client.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("MID", "B", 50, T0 - timedelta(hours=1))])
    )
    assert stale.results[0].outcome == network_pb2.UPDATE_OUTCOME_STALE_IGNORED
    waiting = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-3")).order
    assert state(waiting) == "BACKORDERED" and len(waiting.events) == 1
    # Stock a cancel frees goes to the orders waiting for it, as arriving stock does.
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1"))
    healed = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-3")).order
    assert state(healed) == "ALLOCATED" and healed.events[-1].type == "RESOURCED"
    assert _exceptions(client) == [] and client.conservation() == []


def test_backorders_heal_highest_priority_first_then_oldest(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 7))))  # takes every B there is
    for order_id, priority in (("O-old", 0), ("O-urgent", 10), ("O-young", 0), ("O-urgent-later", 10)):
        client.clock.advance(seconds=1)
        waiting = client.orders.Allocate(allocate(order(order_id, ("B", 1), priority=priority))).order
        assert state(waiting) == "BACKORDERED"
    healed_by = {}
    for units in range(1, 5):  # one unit at a time: each goes to the next order in line
        client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "B", 1)]))
        for order_id in ("O-old", "O-urgent", "O-young", "O-urgent-later"):
            view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id)).order
            if state(view) == "ALLOCATED":
                healed_by.setdefault(order_id, units)
    assert sorted(healed_by, key=healed_by.__getitem__) == ["O-urgent", "O-urgent-later", "O-old", "O-young"]
    assert client.conservation() == []


def test_healing_looks_past_waiting_orders_the_new_stock_cannot_serve(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 7))))  # takes every B there is
    for i in range(HEAL_MAX_ORDERS + 2):  # older and more urgent, but a unit cannot fill any of them
        client.clock.advance(seconds=1)
        whole = order(f"O-whole-{i:02d}", ("B", 3), all_or_nothing=True, priority=5)
        assert state(client.orders.Allocate(allocate(whole)).order) == "BACKORDERED"
    client.clock.advance(seconds=1)
    client.orders.Allocate(allocate(order("O-one", ("B", 1))))

    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("MID", "B", 1)]))

    assert state(client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-one")).order) == "ALLOCATED"
    first = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-whole-00")).order
    assert state(first) == "BACKORDERED" and len(first.events) == 1  # looked at, nothing recorded
    assert client.conservation() == []


def test_a_partly_shipped_order_waiting_for_stock_is_in_the_queue_when_asked(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    client.orders.Allocate(allocate(order("O-1", ("B", 9))))  # 7 of B exist: NEAR 2, MID 5; 2 wait
    ship = orders_pb2.ConfirmShipmentRequest(request_key="s-1", order_id="O-1", node_id="NEAR")
    assert state(client.orders.ConfirmShipment(ship).order) == "PARTIALLY_SHIPPED"
    placed = client.orders.Allocate(allocate(order("O-2", ("A", 2), ("C", 1)))).order  # nothing waits
    first = placed.reservations[0]
    lines = [orders_pb2.LineUnits(line_id=first.line_id)]  # one line ships, the other is still held
    ship = orders_pb2.ConfirmShipmentRequest(request_key="s-2", order_id="O-2", node_id=first.node_id, lines=lines)
    assert state(client.orders.ConfirmShipment(ship).order) == "PARTIALLY_SHIPPED"
    assert _exceptions(client) == []  # by default: held and backordered
    assert _exceptions(client, orders_pb2.ORDER_STATE_PARTIALLY_SHIPPED) == [
        ("O-1", "PARTIALLY_SHIPPED", "waiting for stock: 2 x B")  # O-2 waits for nothing
    ]
    code, out, _ = _cli(client, capsys, "list", "--state", "partly-shipped")
    assert code == 0 and [line.split()[:3] for line in out.splitlines()[1:-1]] == [["O-1", "PARTIALLY_SHIPPED", "2"]]


def test_a_priority_out_of_range_is_refused_naming_the_field(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.orders.Allocate(allocate(order("O-1", ("B", 1), priority=1001)))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised.value) == {"order.priority": "must be between 0 and 1000"}
    assert code_of(lambda: client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1"))) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_a_partially_allocated_order_heals_its_missing_units(client: Client) -> None:
    partial = client.orders.Allocate(allocate(order("O-1", ("C", 6)))).order
    assert state(partial) == "PARTIALLY_ALLOCATED" and partial.lines[0].backordered == 2
    states = (orders_pb2.ORDER_STATE_PARTIALLY_ALLOCATED,)
    assert _exceptions(client, *states) == [("O-1", "PARTIALLY_ALLOCATED", "waiting for stock: 2 x C")]
    # A zero delta brings nothing: no attempt, no event.
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("FAR", "C", 0)]))
    assert len(client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.events) == 1
    client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "C", 5, T0)]))
    healed = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert state(healed) == "ALLOCATED" and healed.lines[0].reserved == 6
    assert sorted((r.node_id, r.qty) for r in healed.reservations) == [("FAR", 4), ("NEAR", 2)]
    assert client.conservation() == []


def test_a_return_is_received_at_the_nearest_node_taking_returns(client: Client) -> None:
    # Shipped from FAR; NEAR (nearest the customer) is a 3PL that takes no returns: MID receives.
    client.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node(
                    "NEAR",
                    type=common_pb2.NODE_TYPE_THIRD_PARTY_LOGISTICS,
                    location=common_pb2.GeoPoint(lat=40.1, lon=-95.0),
                )
            ]
        )
    )
    client.orders.Allocate(allocate(order("O-1", ("C", 3))))
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="O-1", node_id="FAR"))
    client.orders.Allocate(allocate(order("W-1", ("C", 2))))  # FAR's last unit; one waits
    back = client.orders.Return(
        orders_pb2.ReturnRequest(
            request_key="r",
            order_id="O-1",
            lines=[orders_pb2.LineUnits(line_id="L0", qty=2)],
            disposition=orders_pb2.DISPOSITION_RESTOCK,
        )
    ).order
    assert payload_of(back.events[-1])["lines"] == [["L0", 2, "MID"]]
    # Restocked units are stock arriving: the waiting unit of W-1 heals from MID.
    healed = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="W-1")).order
    assert state(healed) == "ALLOCATED" and ("MID", 1) in [(r.node_id, r.qty) for r in healed.reservations]
    assert client.available("C", "MID") == 1 and client.available("C", "FAR") == 0
    # Named by the caller, and disposed: recorded there, nothing restocked.
    disposed = client.orders.Return(
        orders_pb2.ReturnRequest(
            request_key="r2",
            order_id="O-1",
            lines=[orders_pb2.LineUnits(line_id="L0", qty=1)],
            node_id="FAR",
            disposition=orders_pb2.DISPOSITION_DISPOSE,
        )
    ).order
    assert payload_of(disposed.events[-1])["lines"] == [["L0", 1, "FAR"]]
    assert client.available("C", "FAR") == 0 and client.conservation() == []


def test_the_queue_pages_oldest_first_and_filters_by_state(client: Client) -> None:
    for i in range(3):
        client.orders.Allocate(allocate(order(f"H-{i}", ("A", 1), attributes={"fraud_score": "99"})))
        client.clock.advance(seconds=1)
    client.orders.Allocate(allocate(order("B-0", ("A", 50))))  # partially allocated: not by default
    seen, token = [], ""
    while True:
        page = client.orders.ListExceptions(orders_pb2.ListExceptionsRequest(page_size=2, page_token=token))
        seen += [x.order_id for x in page.orders]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["H-0", "H-1", "H-2"]
    listed = client.orders.ListOrders(orders_pb2.ListOrdersRequest(states=[orders_pb2.ORDER_STATE_HELD]))
    assert [x.order_id for x in listed.orders] == ["H-0", "H-1", "H-2"]
    bad = orders_pb2.ListExceptionsRequest(states=[orders_pb2.ORDER_STATE_SHIPPED])
    assert code_of(lambda: client.orders.ListExceptions(bad)) == grpc.StatusCode.INVALID_ARGUMENT


def test_concurrent_arrivals_heal_each_order_once_and_oversell_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("BIG", ("B", 7))))
    for i in range(10):
        client.orders.Allocate(allocate(order(f"W-{i}", ("B", 1))))
    one_more = network_pb2.UpdateInventoryRequest(updates=[delta("MID", "B", 1)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: client.network.UpdateInventory(one_more), range(8)))
    views = [client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id=f"W-{i}")).order for i in range(10)]
    healed = [v for v in views if state(v) == "ALLOCATED"]
    assert all(state(v) in ("ALLOCATED", "BACKORDERED") for v in views)
    # Every arriving unit is either promised to exactly one waiting order or still free.
    assert len(healed) + client.available("B", "MID") == 8 and len(healed) >= 1
    assert all([e.type for e in v.events].count("RESOURCED") == 1 for v in healed)
    assert client.conservation() == []


def _cli(client: Client, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from server.cli.main import main

    code = main(["exceptions", *argv, "--target", client.running.target])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_person_works_the_queue_from_the_command_line(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    client.orders.Allocate(_suspicious("O-1"))
    client.orders.Allocate(_suspicious("O-2"))
    client.orders.Allocate(allocate(order("O-3", ("B", 9))))  # 7 of B exist: 2 wait

    code, out, _ = _cli(client, capsys, "list")
    assert code == 0
    rows = [line.split()[:3] for line in out.splitlines()[1:-1]]
    assert rows == [["O-1", "HELD", "2"], ["O-2", "HELD", "2"]]  # by default: held and backordered
    assert "held for review by rule fraud-hold (fraud score of 80 or more): nothing reserved" in out
    code, out, _ = _cli(client, capsys, "list", "--state", "partial")
    assert [line.split()[:3] for line in out.splitlines()[1:-1]] == [["O-3", "PARTIALLY_ALLOCATED", "2"]]
    code, out, _ = _cli(client, capsys, "list", "--state", "held", "--limit", "1")
    assert code == 0 and "O-1" in out and "O-2" not in out and "1 order shown" in out

    # Approve O-1: allocated now; the printed key replays the same answer and changes nothing.
    code, out, err = _cli(client, capsys, "release", "O-1", "--by", "ann", "--reason", "called them")
    assert code == 0 and out.splitlines()[0] == "O-1: ALLOCATED" and "reserved 2 x A (line L0) at NEAR" in out
    key = err.split("request key: ")[1].split()[0]
    version = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.version
    code, again, _ = _cli(
        client, capsys, "release", "O-1", "--by", "ann", "--reason", "called them", "--request-key", key
    )
    assert code == 0 and again == out
    assert client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.version == version

    code, out, _ = _cli(client, capsys, "cancel", "O-2", "--reason", "customer asked")
    assert code == 0 and out.splitlines()[0] == "O-2: CANCELLED"

    # A refusal prints the status and the field, and exits 1.
    code, _, err = _cli(client, capsys, "release", "NOPE", "--by", "ann", "--reason", "x")
    assert code == 1 and "NOT_FOUND" in err
    code, out, _ = _cli(client, capsys, "list", "--state", "held")
    assert "0 orders shown" in out


def test_the_command_line_re_sources_a_waiting_order(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    client.orders.Allocate(allocate(order("O-0", ("C", 4)), hold_ms=60_000))  # all the C there is
    client.orders.Allocate(allocate(order("O-1", ("C", 2))))
    code, out, _ = _cli(client, capsys, "list", "--state", "backordered")
    assert code == 0 and out.splitlines()[1].split()[:3] == ["O-1", "BACKORDERED", "2"]
    client.clock.advance(minutes=2)  # O-0's hold expires: its C is free again, and expiry heals nothing
    code, out, _ = _cli(client, capsys, "resource", "O-1", "--reason", "stock freed")
    assert code == 0 and out.splitlines() == ["O-1: ALLOCATED", "  reserved 2 x C (line L0) at FAR"]


def test_a_cancel_gives_the_units_it_frees_to_orders_waiting_for_them(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-0", ("C", 4))))  # all the C there is
    client.orders.Allocate(allocate(order("O-1", ("C", 1)), key="k-1"))
    client.orders.Allocate(allocate(order("O-2", ("C", 2), priority=5)))  # newer, but matters more
    cancel = orders_pb2.CancelRequest(
        request_key="c0", order_id="O-0", lines=[orders_pb2.LineUnits(line_id="L0", qty=2)]
    )
    client.orders.Cancel(cancel)
    get = client.orders.GetOrder
    assert state(get(orders_pb2.GetOrderRequest(order_id="O-2")).order) == "ALLOCATED"
    assert state(get(orders_pb2.GetOrderRequest(order_id="O-1")).order) == "BACKORDERED"
    healed = get(orders_pb2.GetOrderRequest(order_id="O-2")).order.events[-1]
    assert healed.type == "RESOURCED"
    # A replayed cancel frees nothing more and heals nothing.
    assert client.orders.Cancel(cancel) == client.orders.Cancel(cancel)
    assert state(get(orders_pb2.GetOrderRequest(order_id="O-1")).order) == "BACKORDERED"
    client.orders.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-0"))
    assert state(get(orders_pb2.GetOrderRequest(order_id="O-1")).order) == "ALLOCATED"
    conservation = client.orders.CheckConservation(orders_pb2.CheckConservationRequest())
    assert conservation.ok, conservation.problems
