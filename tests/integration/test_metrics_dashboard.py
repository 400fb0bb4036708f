"""The metrics the issue asks for exist, move when calls happen, and the dashboard only queries real ones."""

from __future__ import annotations

import json
import re
import urllib.request

import grpc
import pytest
from prometheus_client import CollectorRegistry

from server.api.proto import common_pb2, network_pb2, network_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from server.errors import ReservationConflict
from server.metrics import DecisionMetrics, RelayMetrics, ServerMetrics, StoreMetrics, WebhookMetrics
from server.store.base import Store
from server.store.instrumented import InstrumentedStore
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import REPO, count, free_port, item, node

DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported_names() -> set[str]:
    """Every series name the server can export (families as Prometheus sees them)."""
    registry = CollectorRegistry()
    ServerMetrics(registry)
    DecisionMetrics(registry)
    StoreMetrics(registry)
    RelayMetrics(registry)
    WebhookMetrics(registry)
    return {family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]}


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", ())]


def test_the_dashboard_queries_only_metrics_the_server_exports() -> None:
    names = exported_names()
    used = {m for expr in dashboard_expressions() for m in re.findall(r"\b(?:grpc_server|oms_sourcing)_\w+", expr)}
    assert used, "no metric queried"
    assert used <= names, f"unknown metrics: {sorted(used - names)}"


@pytest.mark.parametrize(
    "metric",
    [
        "grpc_server_handled_total",
        "grpc_server_handling_seconds_bucket",
        "oms_sourcing_inflight_requests",
        "oms_sourcing_decisions_total",
        "oms_sourcing_decision_solve_seconds_bucket",
        "oms_sourcing_decision_gap_ratio_bucket",
        "oms_sourcing_rules_evaluation_seconds_bucket",
        "oms_sourcing_reservation_conflicts_total",
        "oms_sourcing_store_operation_seconds_bucket",
        "oms_sourcing_relay_outbox_depth",
        "oms_sourcing_relay_lag_seconds_bucket",
        "oms_sourcing_relay_published_total",
        "oms_sourcing_relay_retries_total",
        "oms_sourcing_webhook_retries_total",
        "oms_sourcing_webhook_dead_lettered_total",
    ],
)
def test_the_dashboard_shows(metric: str) -> None:
    assert any(metric in expr for expr in dashboard_expressions())


def test_a_source_call_records_rule_time_and_store_latency(start_server: ServerFactory, sqlite_store: Store) -> None:
    running = start_server(sqlite_store, make_config(metrics_port=free_port()))
    assert running.metrics_endpoint is not None
    with grpc.insecure_channel(running.target) as channel:
        network = network_pb2_grpc.NetworkServiceStub(channel)
        network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("N1")]))
        network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A")]))
        network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("N1", "A", 5)]))
        order = common_pb2.Order(
            order_id="O-1",
            ship_to=common_pb2.GeoPoint(lat=40.0, lon=-95.0),
            lines=[common_pb2.OrderLine(line_id="L1", sku="A", qty=1)],
        )
        sourcing_pb2_grpc.SourcingServiceStub(channel).Source(sourcing_pb2.SourceRequest(order=order))
    url = f"http://127.0.0.1:{running.metrics_endpoint.port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    assert "oms_sourcing_rules_evaluation_seconds_count 1.0" in text
    assert 'oms_sourcing_store_operation_seconds_count{operation="stock_levels"} 1.0' in text


class _Racing:
    def allocate_order(self) -> None:
        raise ReservationConflict("lost the race")

    def get_items(self) -> str:
        return "items"


def test_a_lost_reservation_race_is_counted_and_still_raised() -> None:
    registry = CollectorRegistry()
    store = InstrumentedStore(_Racing(), StoreMetrics(registry))
    with pytest.raises(ReservationConflict):
        store.allocate_order()
    assert store.get_items() == "items"
    value = registry.get_sample_value
    assert value("oms_sourcing_reservation_conflicts_total", {"operation": "allocate_order"}) == 1.0
    assert value("oms_sourcing_store_operation_seconds_count", {"operation": "allocate_order"}) == 1.0
    assert value("oms_sourcing_store_operation_seconds_count", {"operation": "get_items"}) == 1.0
