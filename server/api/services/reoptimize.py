"""ReoptimizePending: re-plan the orders holding unreleased stock jointly; move only what saves.

The engine (engine/reoptimize.py) decides and chooses the groups of changes worth applying; the
store (``move_holds``) moves each group's holds in one transaction, each order's version
compared. A group whose order changed meanwhile, or whose free stock went, is skipped and
reported, never retried: the operator's next call re-plans from what then stands.

The request key is stored with the response after the groups are applied, not in their
transactions (one transaction per group, so a key there would acknowledge a call half done).
After a crash the retry re-plans from what stands: the groups already applied are found in place
and are the cheapest plan, so nothing is applied twice; a concurrent duplicate's groups fail
their version checks, and the one response stored first is the answer to both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import grpc

from engine import limits
from engine.decision import AllocationLine
from engine.directives import Exclusion
from engine.errors import InvalidInputError
from engine.model import Order
from engine.orders.records import OrderRecord, held_allocations
from engine.reoptimize import OrderChange, Reoptimization, Skip, SkipReason
from server.api import convert
from server.api.decider import Decider
from server.api.order_proto import request_hash
from server.api.proto import orders_pb2, sourcing_pb2
from server.api.services.allocations import line_exclusions
from server.api.services.deps import ServiceDeps
from server.api.services.sourcing import MAX_SOLVER_TIME_LIMIT_MS, solver_time_limit_ms
from server.errors import HoldsNotMoved
from server.store.base import HoldsMove, OrderStore, RequestKey

MAX_FILTER_NODES = 100  # a region's nodes, as ListOrders takes
_SKIP = {reason: getattr(orders_pb2, f"REOPTIMIZE_SKIP_REASON_{reason.value}") for reason in SkipReason}

Pending = tuple[Order, Sequence[Exclusion], tuple[AllocationLine, ...]]


class PendingReoptimization:
    """OrderService's ReoptimizePending (mixed into it; uses its deps, store and decider)."""

    _deps: ServiceDeps
    _store: OrderStore
    _decider: Decider
    _currency: str

    def ReoptimizePending(
        self, request: orders_pb2.ReoptimizePendingRequest, context: grpc.ServicerContext
    ) -> orders_pb2.ReoptimizePendingResponse:
        c = convert.Collector()
        if request.request_key or not request.dry_run:  # a dry run changes nothing: no key needed
            c.check(bool(request.request_key.strip()), "request_key", "is required (an idempotency key of your choice)")
            c.check(len(request.request_key) <= limits.MAX_ID_LENGTH, "request_key", "is too long")
        c.check(
            0 <= request.max_orders <= limits.MAX_ORDERS_PER_REOPTIMIZE,
            "max_orders",
            f"must be between 0 (up to {limits.MAX_ORDERS_PER_BATCH}) and {limits.MAX_ORDERS_PER_REOPTIMIZE}",
        )
        if convert.check_count(c, "skus", len(request.skus), 0, limits.MAX_AVAILABILITY_SKUS, "SKUs"):
            for i, sku in enumerate(request.skus):
                convert.check_id(c, f"skus[{i}]", sku)
        if convert.check_count(c, "node_ids", len(request.node_ids), 0, MAX_FILTER_NODES, "node ids"):
            for i, node_id in enumerate(request.node_ids):
                convert.check_id(c, f"node_ids[{i}]", node_id)
        c.check(
            0 <= request.solver_time_limit_ms <= MAX_SOLVER_TIME_LIMIT_MS,
            "solver_time_limit_ms",
            f"must be between 0 and {MAX_SOLVER_TIME_LIMIT_MS}",
        )
        c.raise_if_any()
        key = RequestKey(request.request_key, "ReoptimizePending", request_hash("ReoptimizePending", request))
        stored = None if request.dry_run else self._store.replay(key)
        if stored is not None:
            return orders_pb2.ReoptimizePendingResponse.FromString(stored)
        now = self._deps.clock()
        wanted = request.max_orders or limits.MAX_ORDERS_PER_BATCH
        found = self._store.pending_orders(wanted + 1, list(request.skus), list(request.node_ids), now)
        records = [self._store.get_order(order_id, now) for order_id in found[:wanted]]
        response = orders_pb2.ReoptimizePendingResponse(
            orders_considered=len(records), more_pending=len(found) > wanted
        )
        pending, refused = self._pending(records)
        response.skipped.extend(refused)
        if pending:
            limit = solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context)
            result, _ = self._decider.reoptimize(pending, time_limit_ms=limit, now=now)
            records_by_id = {r.order_id: r for r in records}
            self._apply(result, records_by_id, request.request_key, now, response, request.dry_run)
        else:  # nothing to decide: zero totals, trivially optimal, rather than fields left unset
            for total in (response.total_cost_before, response.total_cost_after, response.bound):
                total.CopyFrom(convert.money_to_proto(0.0, self._currency))
            response.status = sourcing_pb2.SOLVE_STATUS_OPTIMAL
        if request.dry_run:
            return response
        return orders_pb2.ReoptimizePendingResponse.FromString(
            self._store.remember_response(key, response.SerializeToString(deterministic=True), now)
        )

    def _pending(self, records: Sequence[OrderRecord]) -> tuple[list[Pending], list[orders_pb2.ReoptimizeSkip]]:
        """Each order as the engine re-plans it: its open units, its lasting exclusions, its holds."""
        pending: list[Pending] = []
        refused = []
        for record in records:
            try:
                order = self._decider.stored_order(record.request)
            except InvalidInputError as error:
                refused.append(_skip(Skip(record.order_id, SkipReason.INVALID, str(error))))
                continue
            open_units = {x.line_id: x.quantities.open for x in record.lines if x.quantities.open > 0}
            lines = tuple(replace(x, qty=open_units[x.line_id]) for x in order.lines if x.line_id in open_units)
            pending.append((replace(order, lines=lines), line_exclusions(record), held_allocations(record)))
        return pending, refused

    def _apply(
        self,
        result: Reoptimization,
        records: dict[str, OrderRecord],
        request_key: str,
        now: datetime,
        response: orders_pb2.ReoptimizePendingResponse,
        dry_run: bool = False,
    ) -> None:
        """Apply each group, whole or not at all (a dry run: none, as if each applied); fill in what
        changed, what was skipped and the totals."""
        response.skipped.extend(_skip(s) for s in result.skipped)
        saved = 0.0
        for group in result.groups:
            if dry_run:
                for change in group:
                    saved += change.cost_before - change.cost_after
                    response.changed.append(self._changed(change, records[change.order_id].version))
                continue
            moves = [
                HoldsMove(
                    change.order_id,
                    records[change.order_id].version,
                    change.before,
                    change.after,
                    self._payload(change, request_key),
                )
                for change in group
            ]
            try:
                self._store.move_holds(moves, now)
            except HoldsNotMoved as error:
                for change in group:
                    if change.order_id == error.order_id:
                        reason = SkipReason.STOCK_TAKEN if error.stock else SkipReason.CHANGED
                        response.skipped.append(_skip(Skip(change.order_id, reason, error.detail)))
                    else:
                        detail = f"in one group with {error.order_id!r}, whose change could not be applied"
                        response.skipped.append(_skip(Skip(change.order_id, SkipReason.GROUP_SKIPPED, detail)))
                continue
            for change in group:
                saved += change.cost_before - change.cost_after
                response.changed.append(self._changed(change, records[change.order_id].version + 1))
        response.total_cost_before.CopyFrom(convert.money_to_proto(result.total_before, self._currency))
        response.total_cost_after.CopyFrom(convert.money_to_proto(result.total_before - saved, self._currency))
        response.status = getattr(sourcing_pb2, f"SOLVE_STATUS_{result.status.value}")
        response.bound.CopyFrom(convert.money_to_proto(max(0.0, result.bound), self._currency))

    def _payload(self, change: OrderChange, request_key: str) -> dict[str, object]:
        return {
            "before": [[a.line_id, a.node_id, a.qty] for a in change.before],
            "after": [[a.line_id, a.node_id, a.qty] for a in change.after],
            "cost_before_micros": convert.units_to_micros(change.cost_before),
            "cost_after_micros": convert.units_to_micros(change.cost_after),
            "rule_set_version": change.rule_set_version,
            "request_key": request_key,
        }

    def _changed(self, change: OrderChange, version: int) -> orders_pb2.ReoptimizedOrder:
        return orders_pb2.ReoptimizedOrder(
            order_id=change.order_id,
            before=[_allocation(a) for a in change.before],
            after=[_allocation(a) for a in change.after],
            cost_before=convert.money_to_proto(change.cost_before, self._currency),
            cost_after=convert.money_to_proto(change.cost_after, self._currency),
            version=version,
        )


def _allocation(a: AllocationLine) -> sourcing_pb2.Allocation:
    return sourcing_pb2.Allocation(line_id=a.line_id, node_id=a.node_id, sku=a.sku, qty=a.qty)


def _skip(skip: Skip) -> orders_pb2.ReoptimizeSkip:
    return orders_pb2.ReoptimizeSkip(order_id=skip.order_id, reason=_SKIP[skip.reason], detail=skip.detail)
