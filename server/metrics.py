"""Prometheus metrics: the conventional gRPC server families plus the service's own.

Metric objects live on a :class:`ServerMetrics` bound to a registry (not module globals) so that
several servers can run in one process (tests) without clashing. With several worker processes,
prometheus_client's multiprocess mode is used: the parent sets PROMETHEUS_MULTIPROC_DIR before
it starts the workers, each worker's values go to files there, and the parent's /metrics
endpoint (server/metrics_http.py) aggregates them so one scrape sees every worker.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from engine.decision import Decision

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# Unary calls take ~0.4 ms at best and solver-bound ones up to the deadline.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Rule evaluation and store reads take tens of microseconds; the coarse buckets would lump them.
_FAST_BUCKETS = (0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class ServerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter("grpc_server_started_total", "RPCs started on the server.", _LABELS, registry=registry)
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status.",
            (*_LABELS, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time the server took to handle an RPC.",
            _LABELS,
            buckets=_BUCKETS,
            registry=registry,
        )
        # livesum: in multiprocess mode, the sum over workers that are still alive.
        self.inflight = Gauge(
            "oms_sourcing_inflight_requests",
            "RPCs being handled right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )


class DecisionMetrics:
    """What each decision was: its path, status, solve time, gap, shipments and cost."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "oms_sourcing_decisions_total",
            "Decisions made, by optimizer path and status.",
            ("path", "status"),
            registry=registry,
        )
        self.solve_seconds = Histogram(
            "oms_sourcing_decision_solve_seconds",
            "Time in the optimizer per decision.",
            ("path",),
            buckets=_BUCKETS,
            registry=registry,
        )
        self.gap_ratio = Histogram(
            "oms_sourcing_decision_gap_ratio",
            "Relative gap to the proven bound (0 when optimal).",
            buckets=(0.0, 0.001, 0.005, 0.01, 0.05, 0.1),
            registry=registry,
        )
        self.shipments = Histogram(
            "oms_sourcing_decision_shipments",
            "Shipments per decision.",
            buckets=(0, 1, 2, 3, 4, 6, 10),
            registry=registry,
        )
        self.cost = Histogram(
            "oms_sourcing_decision_cost",
            "Objective value per decision, in the service's currency.",
            buckets=(5, 10, 20, 50, 100, 200, 500, 1000),
            registry=registry,
        )
        self.backordered_units = Counter(
            "oms_sourcing_backordered_units_total", "Units decisions left unfilled.", registry=registry
        )
        self.rules_seconds = Histogram(
            "oms_sourcing_rules_evaluation_seconds",
            "Time evaluating the active planner rule set per decision.",
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        self._by_outcome: dict[tuple[str, str], tuple[Any, Any]] = {}

    def observe(self, decision: Decision, solve_seconds: float, rules_seconds: float = 0.0) -> None:
        # Labelled children kept by their labels: a labels() lookup costs more than the increment.
        key = (decision.path.value, decision.status.value)
        counted = self._by_outcome.get(key)
        if counted is None:
            counted = self._by_outcome[key] = (
                self.decisions.labels(*key),
                self.solve_seconds.labels(decision.path.value),
            )
        counted[0].inc()
        counted[1].observe(solve_seconds)
        self.rules_seconds.observe(rules_seconds)
        self.gap_ratio.observe(decision.gap)
        self.shipments.observe(decision.shipments)
        self.cost.observe(decision.cost.total)
        self.backordered_units.inc(decision.cost.backordered_units)


class StoreMetrics:
    """Store calls by operation (a Store method's name): latency, and reservations lost to a race."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.operation_seconds = Histogram(
            "oms_sourcing_store_operation_seconds",
            "Time in one store call, by operation.",
            ("operation",),
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        # Each conflict makes Allocate/Reallocate decide again and retry, until their attempts run
        # out (then ABORTED, counted in grpc_server_handled_total).
        self.reservation_conflicts = Counter(
            "oms_sourcing_reservation_conflicts_total",
            "Conditional reservations that lost a race; each is followed by a retry of the decision.",
            ("operation",),
            registry=registry,
        )


# From an event's commit to the broker's acknowledgement: milliseconds when the relay keeps up,
# seconds to minutes while the broker is down and it catches up.
# Fine below half a second, the relay's lag objective (docs/integrations.md): a p99 read off the
# buckets says on which side of it the relay is.
LAG_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class RelayMetrics:
    """The outbox relay (server/relay/): what it published, how far behind it is, whether it leads."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "oms_sourcing_relay_published_total",
            "Messages (events and fulfillment instructions) the broker acknowledged as new.",
            registry=registry,
        )
        self.duplicates = Counter(
            "oms_sourcing_relay_duplicates_total",
            "Messages published again (after a restart or a retry) that the broker's duplicate window dropped.",
            registry=registry,
        )
        self.retries = Counter(
            "oms_sourcing_relay_retries_total",
            "Publish rounds or connection attempts that failed (broker down, slow, refusing) and were retried.",
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "oms_sourcing_relay_lag_seconds",
            "Seconds from an event's commit to the broker's acknowledgement.",
            buckets=LAG_BUCKETS_SECONDS,
            registry=registry,
        )
        # max over processes: every server process may run a relay, one leads.
        self.outbox_depth = Gauge(
            "oms_sourcing_relay_outbox_depth",
            "Committed events the broker has not acknowledged yet (read by the leading relay).",
            registry=registry,
            multiprocess_mode="max",
        )
        self.broker_up = Gauge(
            "oms_sourcing_relay_broker_up",
            "1 while the leading relay is connected to the broker, 0 while it is not.",
            registry=registry,
            multiprocess_mode="max",
        )
        self.leader = Gauge(
            "oms_sourcing_relay_leader",
            "1 in the process whose relay holds the lease and publishes, 0 in a relay that waits.",
            registry=registry,
            multiprocess_mode="livesum",
        )


class WebhookMetrics:
    """The webhook dispatchers (server/relay/webhooks.py), one series per subscriber."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("subscriber",)
        self.delivered = Counter(
            "oms_sourcing_webhook_delivered_total",
            "Events a subscriber's receiver accepted (a 2xx answer).",
            labels,
            registry=registry,
        )
        self.retries = Counter(
            "oms_sourcing_webhook_retries_total",
            "Deliveries that failed (an error status, a timeout, no connection) and were tried again after a back-off.",
            labels,
            registry=registry,
        )
        self.dead_lettered = Counter(
            "oms_sourcing_webhook_dead_lettered_total",
            "Events put in the dead letters: out of attempts, or behind an earlier dead event of their order.",
            labels,
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "oms_sourcing_webhook_lag_seconds",
            "Seconds from an event's commit to its receiver's acceptance.",
            labels,
            buckets=LAG_BUCKETS_SECONDS,
            registry=registry,
        )
        self.backlog = Gauge(
            "oms_sourcing_webhook_backlog",
            "Committed events after the subscriber's position, delivered or skipped not yet (read by its leader).",
            labels,
            registry=registry,
            multiprocess_mode="max",
        )


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def aggregating_registry(directory: str) -> CollectorRegistry:
    """What the parent of several workers serves: every worker's values, summed."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def mark_worker_dead(pid: int) -> None:
    """Drop a finished worker's live gauges from the aggregate."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class IntakeMetrics:
    """Shipment confirmations a WMS published (server/relay/shipments_intake.py), by what became of them."""

    OUTCOMES = ("applied", "refused", "retried")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.confirmations = Counter(
            "oms_sourcing_shipments_intake_total",
            "Shipment confirmations taken from JetStream: applied (or replayed), refused (published to "
            "the rejected subject, never redelivered) or retried (failed in a way that may pass).",
            ("outcome",),
            registry=registry,
        )
        for outcome in self.OUTCOMES:  # every series exists from the start, at 0
            self.confirmations.labels(outcome)
