"""SourcingService: decide where an order ships from. A thin shell over server.api.decider."""

from __future__ import annotations

import time

import grpc

from server.api import convert
from server.api.decider import Decider
from server.api.proto import sourcing_pb2, sourcing_pb2_grpc
from server.api.services.deps import ServiceDeps
from server.api.services.promise import Promiser
from server.api.sku_resolution import Translation, add_translations

MAX_WHY_NOT = 10
MAX_SOLVER_TIME_LIMIT_MS = 600_000
# Time kept back from the caller's deadline for reading stock and answering.
DEADLINE_MARGIN_MS = 25


def solver_time_limit_ms(requested_ms: int, default_ms: int, context: grpc.ServicerContext) -> int:
    """The request's limit or the server's, never more than what the caller's deadline leaves."""
    limit = requested_ms or default_ms
    remaining = context.time_remaining()
    if remaining is not None:
        limit = min(limit, int(remaining * 1000) - DEADLINE_MARGIN_MS)
    return max(1, limit)


class SourcingService(sourcing_pb2_grpc.SourcingServiceServicer):  # type: ignore[misc]
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._decider: Decider = deps.decider
        self._currency = deps.config.currency
        self._promiser = Promiser(deps)

    def Source(self, request: sourcing_pb2.SourceRequest, context: grpc.ServicerContext) -> sourcing_pb2.SourceResponse:
        started = time.perf_counter()
        c = convert.Collector()
        c.check(request.HasField("order"), "order", "is required")
        why_not = convert.ids_from_proto(c, "why_not_node_ids", request.why_not_node_ids, MAX_WHY_NOT, "node ids")
        if not 0 <= request.solver_time_limit_ms <= MAX_SOLVER_TIME_LIMIT_MS:  # words only when wrong
            c.add("solver_time_limit_ms", f"must be between 0 and {MAX_SOLVER_TIME_LIMIT_MS}")
        c.check(
            not (request.skip_explanations and why_not),
            "why_not_node_ids",
            "must be empty with skip_explanations: their answers are explanations",
        )
        c.raise_if_any()
        translations: list[Translation] = []
        order = self._decider.order_from_proto(request.order, new=True, translations=translations)
        limit = solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context)
        outcome = self._decider.decide(
            order, time_limit_ms=limit, why_not=why_not, explain=not request.skip_explanations
        )
        response = sourcing_pb2.SourceResponse(decision=outcome.proto_fields(self._currency, started))
        add_translations(response.decision.translated_lines, translations)
        return response

    def Promise(
        self, request: sourcing_pb2.PromiseRequest, context: grpc.ServicerContext
    ) -> sourcing_pb2.PromiseResponse:
        return self._promiser.promise(request)

    def PromiseProducts(
        self, request: sourcing_pb2.PromiseProductsRequest, context: grpc.ServicerContext
    ) -> sourcing_pb2.PromiseProductsResponse:
        return self._promiser.promise_products(request)
