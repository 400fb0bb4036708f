"""SourcingService: decide where an order ships from. A thin shell over engine.sourcing.decide."""

from __future__ import annotations

import time
import uuid

import grpc

from engine import limits
from engine.availability import Availability
from engine.optimizer.search import SolverSettings
from engine.sourcing import decide
from server import convert
from server.decision_proto import decision_to_proto
from server.proto import sourcing_pb2, sourcing_pb2_grpc
from server.services.deps import ServiceDeps

MAX_WHY_NOT = 10
# Time kept back from the caller's deadline for reading stock and answering.
DEADLINE_MARGIN_MS = 25


class SourcingService(sourcing_pb2_grpc.SourcingServiceServicer):  # type: ignore[misc]
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store = deps.store
        self._network = deps.network
        self._currency = deps.config.currency

    def Source(self, request: sourcing_pb2.SourceRequest, context: grpc.ServicerContext) -> sourcing_pb2.SourceResponse:
        started = time.perf_counter()
        c = convert.Collector()
        c.check(request.HasField("order"), "order", "is required")
        why_not = convert.ids_from_proto(c, "why_not_node_ids", request.why_not_node_ids, MAX_WHY_NOT, "node ids")
        c.check(0 <= request.solver_time_limit_ms <= 600_000, "solver_time_limit_ms", "must be between 0 and 600000")
        c.raise_if_any()
        skus = sorted({line.sku for line in request.order.lines})[: limits.MAX_LINES_PER_ORDER]
        catalogue = self._store.get_items(skus)
        order = convert.order_from_proto(request.order, catalogue, self._currency)
        snapshot = self._network.get()
        availability = Availability.from_positions(snapshot, skus, self._store.get_availability(skus))
        settings = SolverSettings(time_limit_ms=self._time_limit_ms(request, context))
        solve_started = time.perf_counter()
        decision = decide(order, snapshot, availability, settings=settings, why_not=why_not)
        solve_ms = (time.perf_counter() - solve_started) * 1000.0
        message = decision_to_proto(
            decision,
            decision_id=str(uuid.uuid4()),
            currency=self._currency,
            network_version=snapshot.version,
            solve_ms=solve_ms,
            total_ms=(time.perf_counter() - started) * 1000.0,
        )
        return sourcing_pb2.SourceResponse(decision=message)

    def _time_limit_ms(self, request: sourcing_pb2.SourceRequest, context: grpc.ServicerContext) -> int:
        """The solver's limit: the request's or the server's, never more than the deadline leaves."""
        limit = request.solver_time_limit_ms or self._deps.config.solver_time_limit_ms
        remaining = context.time_remaining()
        if remaining is not None:
            limit = min(limit, int(remaining * 1000) - DEADLINE_MARGIN_MS)
        return max(1, limit)
