"""AllocateBatch: many orders decided jointly (engine/batch.py), each then stored as Allocate stores it.

Request keys are per order, not per batch: each order is reserved and stored in its own
transaction by the same store call as Allocate (``allocate_order``), which commits the order's key
and response with its effects. A crash between two orders leaves the first stored under its key
and the second untouched; the caller, having no answer, retries the batch with the same keys and
gets the stored orders replayed and the rest allocated. One key for the whole batch would need
one transaction for every order (holding the write lock across a hundred orders) or would
acknowledge orders that were never stored. The answer leaves only after every order's commit, so
an acknowledged order is always reserved.

An order whose reservation race is lost (another call took the stock in between) is decided
again alone, as Allocate would (its own retries, then ABORTED): its joint plan is stale.

What fails the whole call, and writes nothing, is checked before anything is written: the batch's
own fields, and two orders sharing a request key or an order id (which of them would be stored
depends on the order of the writes, and a retry would answer them differently). Everything else
is one order's own outcome, the one Allocate would give it alone, and the same on a retry: a bad
field, its key used before for another request, its order id stored under another key, no stock
after the retries. A deadline passing between two orders' commits fails the call as a crash
would: the orders committed so far stay stored, and the retried batch replays them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import json_format
from google.rpc import code_pb2

from engine import limits
from engine.decision import SolveStatus
from engine.errors import InvalidInputError
from engine.model import Order
from server.api import convert
from server.api.decider import Decider
from server.api.order_proto import request_hash
from server.api.proto import orders_pb2, sourcing_pb2
from server.api.services.allocations import DEFAULT_HOLD_MS, MAX_HOLD_MS, Allocator, allocate_response
from server.api.services.deps import ServiceDeps
from server.api.services.sourcing import MAX_SOLVER_TIME_LIMIT_MS, solver_time_limit_ms
from server.api.sku_resolution import Translation, add_translations
from server.api.status import to_status
from server.deadline import DeadlineExceeded
from server.store.base import OrderStore, RequestKey

_STATUS = {status: getattr(sourcing_pb2, f"SOLVE_STATUS_{status.value}") for status in SolveStatus}


@dataclass(frozen=True)
class _Pending:
    index: int
    request: orders_pb2.AllocateRequest
    key: RequestKey
    order: Order
    translations: list[Translation]


class BatchAllocation:
    """OrderService's AllocateBatch (mixed into it; uses its deps, store and Allocate)."""

    _deps: ServiceDeps
    _store: OrderStore
    _allocator: Allocator
    _decider: Decider
    _currency: str

    def AllocateBatch(
        self, request: orders_pb2.AllocateBatchRequest, context: grpc.ServicerContext
    ) -> orders_pb2.AllocateBatchResponse:
        started = time.perf_counter()
        c = convert.Collector()
        c.check(
            1 <= len(request.orders) <= limits.MAX_ORDERS_PER_BATCH,
            "orders",
            f"must have 1 to {limits.MAX_ORDERS_PER_BATCH} orders",
        )
        c.check(
            0 <= request.solver_time_limit_ms <= MAX_SOLVER_TIME_LIMIT_MS,
            "solver_time_limit_ms",
            f"must be between 0 and {MAX_SOLVER_TIME_LIMIT_MS}",
        )
        _check_distinct(c, request.orders)
        c.raise_if_any()
        results = [orders_pb2.AllocateBatchResult() for _ in request.orders]
        pending = self._admit(request, results)
        if not pending:
            return orders_pb2.AllocateBatchResponse(results=results)
        now = self._deps.clock()
        limit = solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context)
        outcomes, batch = self._decider.decide_batch([p.order for p in pending], time_limit_ms=limit, now=now)
        for item, outcome in zip(pending, outcomes, strict=True):
            try:
                # A lost race makes its joint plan stale: it is then decided again alone, as Allocate does.
                allocated = self._allocator.new_order(
                    item.key,
                    item.order,
                    json_format.MessageToJson(item.request.order, indent=None, sort_keys=True),
                    item.request.hold_ms or DEFAULT_HOLD_MS,
                    lambda: solver_time_limit_ms(0, self._deps.config.solver_time_limit_ms, context),
                    started,
                    first=(outcome, now),
                )
                results[item.index].response.CopyFrom(allocated)
                add_translations(results[item.index].response.decision.translated_lines, item.translations)
            except DeadlineExceeded:
                raise  # the call is past its deadline: no later order may be written either
            except Exception as error:
                results[item.index].error.CopyFrom(_error(error, item.index))
        response = orders_pb2.AllocateBatchResponse(results=results)  # copies: built once they are final
        response.total_cost.CopyFrom(convert.money_to_proto(batch.total, self._currency))
        response.sequential_total_cost.CopyFrom(convert.money_to_proto(batch.sequential_total, self._currency))
        response.bound.CopyFrom(convert.money_to_proto(max(0.0, batch.bound), self._currency))
        response.status = _STATUS[batch.status]
        return response

    def _admit(
        self, request: orders_pb2.AllocateBatchRequest, results: list[orders_pb2.AllocateBatchResult]
    ) -> list[_Pending]:
        """Orders to decide; the others get their stored answer (a retried batch) or their error."""
        pending: list[_Pending] = []
        for i, entry in enumerate(request.orders):
            try:
                c = convert.Collector()
                c.check(
                    bool(entry.request_key.strip()), "request_key", "is required (an idempotency key of your choice)"
                )
                c.check(len(entry.request_key) <= limits.MAX_ID_LENGTH, "request_key", "is too long")
                c.check(entry.HasField("order"), "order", "is required")
                c.check(0 <= entry.hold_ms <= MAX_HOLD_MS, "hold_ms", "is out of range (as for Allocate)")
                c.check(entry.solver_time_limit_ms == 0, "solver_time_limit_ms", "is the batch's: leave it at 0")
                c.raise_if_any()
                key = RequestKey(entry.request_key, "Allocate", request_hash("Allocate", entry))
                stored = self._store.replay(key)
                if stored is not None:
                    results[i].response.CopyFrom(allocate_response(stored))
                    continue
                translations: list[Translation] = []
                order = self._decider.order_from_proto(entry.order, new=True, translations=translations)
                pending.append(_Pending(i, entry, key, order, translations))
            except Exception as error:
                results[i].error.CopyFrom(_error(error, i))
        return pending


def _check_distinct(c: convert.Collector, entries: Sequence[orders_pb2.AllocateRequest]) -> None:
    """Each request key and each order id at most once in the batch (empty ones are each order's
    own error): the later entries are named."""
    keys: dict[str, int] = {}
    order_ids: dict[str, int] = {}
    for i, entry in enumerate(entries):
        key, order_id = entry.request_key, entry.order.order_id
        if key in keys:
            c.add(f"orders[{i}].request_key", f"is orders[{keys[key]}]'s too: each order needs a key of its own")
        elif key:
            keys[key] = i
        if order_id in order_ids:
            c.add(f"orders[{i}].order.order_id", f"is orders[{order_ids[order_id]}]'s too: an order comes once a batch")
        elif order_id:
            order_ids[order_id] = i


def _error(error: Exception, index: int) -> orders_pb2.BatchOrderError:
    """The status Allocate would have answered for this order, its fields under orders[index]."""
    if isinstance(error, InvalidInputError):
        error = error.prefixed(f"orders[{index}]")
    status = to_status(error, "AllocateBatch")
    result = orders_pb2.BatchOrderError(code=status.code, message=status.message)
    if isinstance(error, InvalidInputError):
        for v in error.violations:
            result.field_violations.add(field=v.field, description=v.description)
    elif status.code == code_pb2.INTERNAL:
        raise error  # a bug: the whole call fails with the request id, as any other RPC
    return result
