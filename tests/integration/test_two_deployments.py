"""Two deployments on one PostgreSQL, as two machines would run them: two server groups, each
its own parent and workers on its own port. Clients split over both race for the last units;
rules, nodes and stock changed through one group decide on the other within the documented
time (docs/configuration.md, "Scaling out"). Every channel below is traced to one worker, so
every worker of a group is asked, not just the one a single connection lands on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import psycopg
import pytest

from benchmarks.connections import balanced_connections
from server.api.proto import (
    common_pb2,
    network_pb2,
    network_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    sourcing_pb2,
    sourcing_pb2_grpc,
)
from tests.conftest import PostgresDatabases
from tests.integration.helpers import ServerProcess, count, item, node
from tests.integration.orders_helpers import HOME
from tests.integration.test_order_races import RACERS, assert_never_oversold, load_race_stock, race_for

pytestmark = pytest.mark.postgres

WORKERS = 2
REFRESH_SECONDS = 1.0  # server/api/network_cache.py, server/active_rules.py
# Documented: within the 1 s refresh; the rest is room for a machine busy with both groups.
VISIBLE_WITHIN_SECONDS = 3.0
RACES = ((1, 150), (3, 50))  # (units per SKU, trials): every trial has RACERS clients over 4 workers

Check = Callable[[sourcing_pb2.Decision], bool]


@dataclass
class Group:
    server: ServerProcess
    channels: list[grpc.Channel]  # one per worker
    database_url: str

    def network(self) -> network_pb2_grpc.NetworkServiceStub:
        return network_pb2_grpc.NetworkServiceStub(self.channels[0])  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def groups(postgres_databases: PostgresDatabases) -> Iterator[tuple[Group, Group]]:
    url = postgres_databases.create()
    started: list[Group] = []
    try:
        for _ in range(2):
            server = ServerProcess(
                ["--workers", str(WORKERS), "--port", "0", "--metrics-port", "0", "--threads", "4", "--database", url],
                timeout=60,
            )
            started.append(Group(server, balanced_connections(server.target, WORKERS), url))
        yield started[0], started[1]
    finally:
        for group in started:
            for channel in group.channels:
                channel.close()
        codes = [(group.server.stop(), group.server.logs) for group in started]
        postgres_databases.drop(url)
        for code, logs in codes:
            assert code == 0, logs


def _source(channel: grpc.Channel, sku: str) -> sourcing_pb2.Decision:
    order = common_pb2.Order(order_id="probe", ship_to=HOME, lines=[common_pb2.OrderLine(line_id="L0", sku=sku, qty=2)])
    stub = sourcing_pb2_grpc.SourcingServiceStub(channel)  # type: ignore[no-untyped-call]
    return stub.Source(sourcing_pb2.SourceRequest(order=order, skip_explanations=True), timeout=10).decision


def _used(decision: sourcing_pb2.Decision) -> set[str]:
    return {a.node_id for a in decision.allocations}


def _seen_by(channels: list[grpc.Channel], sku: str, check: Check, since: float) -> float:
    """Seconds from ``since`` until a decision of every worker behind ``channels`` passes ``check``."""
    waiting = dict(enumerate(channels))
    latest = since
    deadline = since + VISIBLE_WITHIN_SECONDS
    while waiting:
        for index, channel in list(waiting.items()):
            if check(_source(channel, sku)):
                latest = time.monotonic()
                del waiting[index]
        if waiting and time.monotonic() > deadline:
            raise AssertionError(
                f"workers {sorted(waiting)} still decide on the old state {VISIBLE_WITHIN_SECONDS} s on"
            )
        time.sleep(0.01)
    return latest - since


def _two_nodes(group: Group, tag: str) -> str:
    """Nodes NEAR (the cheaper, closer to HOME) and FAR, each with 5 of one SKU; the SKU."""
    sku = f"{tag}-SKU"
    network = group.network()
    network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node(f"{tag}-NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0)),
                node(f"{tag}-FAR", location=common_pb2.GeoPoint(lat=30.0, lon=-95.0)),
            ]
        )
    )
    network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item(sku)]))
    network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count(f"{tag}-NEAR", sku, 5), count(f"{tag}-FAR", sku, 5)])
    )
    return sku


def _uses(node_id: str) -> Check:
    return lambda decision: _used(decision) == {node_id}


def test_clients_split_over_both_groups_never_oversell_the_last_units(groups: tuple[Group, Group]) -> None:
    a, b = groups
    channels = [*a.channels, *b.channels]
    for units, trials in RACES:
        skus = load_race_stock(a.channels[0], trials, f"race{units}", units)
        _seen_by(channels, skus[0], _uses("N1"), time.monotonic())  # every worker knows node N1
        result = race_for(skus, channels, RACERS)
        assert_never_oversold(result, units)


@pytest.mark.slow
def test_a_thousand_last_units_across_both_groups(groups: tuple[Group, Group]) -> None:
    """The same race, longer (make test-all)."""
    a, b = groups
    channels = [*a.channels, *b.channels]
    skus = load_race_stock(a.channels[0], 1000, "race-long")
    _seen_by(channels, skus[0], _uses("N1"), time.monotonic())
    assert_never_oversold(race_for(skus, channels, RACERS))


def test_a_rule_activated_through_one_group_decides_on_the_other(groups: tuple[Group, Group]) -> None:
    a, b = groups
    sku = _two_nodes(a, "RULE")
    _seen_by([*a.channels, *b.channels], sku, _uses("RULE-NEAR"), time.monotonic())
    rules = rules_pb2_grpc.RulesServiceStub(a.channels[0])  # type: ignore[no-untyped-call]
    text = "rules:\n  - {id: no-rule-near, then: {exclude: {node: {id: RULE-NEAR}}}}\n"
    request = rules_pb2.ActivateRulesRequest(
        files=[rules_pb2.RuleFile(name="planner.yaml", content=text)], activated_by="ann"
    )
    version = rules.ActivateRules(request).version
    activated = time.monotonic()
    switched: Check = lambda d: d.rule_set_version == version and _used(d) == {"RULE-FAR"}  # noqa: E731
    seconds = _seen_by(b.channels, sku, switched, activated)
    print(f"rule activation seen by every worker of the other group after {seconds:.3f} s")


def test_stock_and_network_changes_through_one_group_decide_on_the_other(groups: tuple[Group, Group]) -> None:
    a, b = groups
    sku = _two_nodes(a, "NET")
    _seen_by([*a.channels, *b.channels], sku, _uses("NET-NEAR"), time.monotonic())

    # Stock: read from the store by every decision, so seen by the next one.
    a.network().UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NET-NEAR", sku, 0)]))
    stock = _seen_by(b.channels, sku, _uses("NET-FAR"), time.monotonic())
    a.network().UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NET-NEAR", sku, 5)]))
    _seen_by(b.channels, sku, _uses("NET-NEAR"), time.monotonic())

    # A node: each process re-reads the store's network version once a second.
    closed = node("NET-NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0), is_open=False)
    a.network().UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[closed]))
    network = _seen_by(b.channels, sku, _uses("NET-FAR"), time.monotonic())

    # The other way, written by a machine whose clock runs behind the one that stamped the nodes
    # last: here the stamps are moved an hour ahead, as such a machine would have left them.
    with psycopg.connect(b.database_url) as raw:
        raw.execute("UPDATE nodes SET updated_at = now() + interval '1 hour'")
    time.sleep(REFRESH_SECONDS + 0.5)
    for channel in a.channels:  # each worker checks the network version on a call, once a second at most
        assert _used(_source(channel, sku)) == {"NET-FAR"}
    reopened = node("NET-NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0), is_open=True)
    b.network().UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[reopened]))
    behind = _seen_by(a.channels, sku, _uses("NET-NEAR"), time.monotonic())
    print(f"seen by every worker of the other group: stock {stock:.3f} s, node {network:.3f} s, {behind:.3f} s")
