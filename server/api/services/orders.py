"""OrderService: allocate, then carry the order through its lifecycle. A thin shell.

Deciding is server.api.decider's; the state machine is engine.orders.lifecycle's; every write is one
store transaction (server.store.orders). Mutating calls replay a stored response for a known
request key before doing any work, and the transaction checks the key again, so a duplicate
racing the first call still gets the first call's response.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from engine import limits
from engine.errors import FieldViolation, InvalidInputError
from engine.model import id_problem
from engine.network import NetworkSnapshot
from engine.orders import changes
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import OrderRecord
from engine.returns import ReturnRoute, receiving_node
from server.api import convert
from server.api.decider import Decider
from server.api.order_proto import (
    carriage_from_proto,
    fill_event,
    hold_reason,
    order_view,
    request_hash,
    state_from_proto,
    state_to_proto,
)
from server.api.proto import orders_pb2, orders_pb2_grpc, sourcing_pb2
from server.api.services.allocations import (
    DEFAULT_HOLD_MS,
    MAX_HOLD_MS,
    Allocator,
    Resourcing,
    allocate_response,
    line_exclusions,
    order_response,
    sub_order,
)
from server.api.services.batch import BatchAllocation
from server.api.services.deps import ServiceDeps
from server.api.services.reoptimize import PendingReoptimization
from server.api.services.resourcing import Resource, Resourcer
from server.api.services.sourcing import MAX_SOLVER_TIME_LIMIT_MS, solver_time_limit_ms
from server.api.sku_resolution import Translation, add_translations
from server.errors import InvalidRequestError
from server.store.base import OrderFilter, RequestKey, TimeWindow, order_store
from server.store.page_tokens import decode_page_token, encode_page_token
from server.sweeper import start_sweeper

MAX_PAGE_SIZE = 1000
MAX_LISTED_NODES = 100  # ListOrders.node_ids: a region's stores, not the whole network
# A state filter names each state at most once; a longer list is refused whole, unread.
MAX_STATE_FILTERS = len(OrderState)
# WatchEvents: how often a caught-up stream looks for new events, and events per read.
WATCH_POLL_SECONDS = 0.15
WATCH_BATCH = 500
QUEUED_STATES = (
    OrderState.HELD,
    OrderState.BACKORDERED,
    OrderState.PARTIALLY_ALLOCATED,
    OrderState.PARTIALLY_SHIPPED,  # listed only while some of it waits for stock
)

LineTargets = list[tuple[str, int]]


def _key(c: convert.Collector, method: str, request: Message) -> RequestKey:
    value: str = getattr(request, "request_key")  # noqa: B009 - every mutating request has one
    if not value.strip():
        c.add("request_key", "is required (an idempotency key of your choice)")
    else:
        convert.check_id(c, "request_key", value)
    return RequestKey(value, method, request_hash(method, request))


def _targets(c: convert.Collector, lines: Sequence[orders_pb2.LineUnits]) -> LineTargets:
    if not convert.check_count(c, "lines", len(lines), 0, limits.MAX_LINES_PER_ORDER, "lines"):
        return []  # more than any order has: refused whole (checking 500,000 lines one by one took 15 s)
    seen: set[str] = set()
    for i, line in enumerate(lines):
        convert.check_id(c, f"lines[{i}].line_id", line.line_id)
        c.check(line.line_id not in seen, f"lines[{i}].line_id", "is named twice")
        c.check(0 <= line.qty <= limits.MAX_QTY_PER_LINE, f"lines[{i}].qty", "must be 0 (all) or a unit count")
        seen.add(line.line_id)
    return [(line.line_id, line.qty) for line in lines]


def _state_filter(c: convert.Collector, states: Sequence[int]) -> list[OrderState | None]:
    if not convert.check_count(c, "states", len(states), 0, MAX_STATE_FILTERS, "states"):
        return []
    return [state_from_proto(s) for s in states]


def _bad(field: str, description: str) -> InvalidInputError:
    return InvalidInputError(FieldViolation(field, description))


class OrderService(BatchAllocation, PendingReoptimization, orders_pb2_grpc.OrderServiceServicer):  # type: ignore[misc]
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store = order_store(deps.store)
        self._decider: Decider = deps.decider
        self._currency = deps.config.currency
        self._resourcer = Resourcer(deps)
        self._allocator = Allocator(deps)
        # One sweeper per server process, living as long as its services (ended by deps.stopping).
        retention = deps.config.request_key_retention_hours
        self._sweeper = start_sweeper(
            self._store,
            deps.clock,
            deps.config.sweep_interval_seconds,
            deps.stopping,
            timedelta(hours=retention) if retention > 0 else None,
        )

    def _now(self) -> datetime:
        return self._deps.clock()

    # --- allocate ----------------------------------------------------------------------

    def Allocate(
        self, request: orders_pb2.AllocateRequest, context: grpc.ServicerContext
    ) -> orders_pb2.AllocateResponse:
        started = time.perf_counter()
        c = convert.Collector()
        key = _key(c, "Allocate", request)
        c.check(request.HasField("order"), "order", "is required")
        c.check(0 <= request.hold_ms <= MAX_HOLD_MS, "hold_ms", f"must be between 0 and {MAX_HOLD_MS}")
        c.check(
            0 <= request.solver_time_limit_ms <= MAX_SOLVER_TIME_LIMIT_MS,
            "solver_time_limit_ms",
            f"must be between 0 and {MAX_SOLVER_TIME_LIMIT_MS}",
        )
        c.raise_if_any()
        # No replay read up front: retries are rare, and the transaction replays them anyway.
        translations: list[Translation] = []
        order = self._decider.order_from_proto(request.order, new=True, translations=translations)
        hold_ms = request.hold_ms or DEFAULT_HOLD_MS
        request_json = json_format.MessageToJson(request.order, indent=None, sort_keys=True)
        response = self._allocator.new_order(
            key,
            order,
            request_json,
            hold_ms,
            lambda: solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context),
            started,
        )
        add_translations(response.decision.translated_lines, translations)
        return response

    # --- reads -------------------------------------------------------------------------

    def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: grpc.ServicerContext
    ) -> orders_pb2.GetOrderResponse:
        c = convert.Collector()
        convert.check_id(c, "order_id", request.order_id)
        c.raise_if_any()
        return orders_pb2.GetOrderResponse(order=order_view(self._store.get_order(request.order_id, self._now())))

    def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: grpc.ServicerContext
    ) -> orders_pb2.ListOrdersResponse:
        c = convert.Collector()
        states = _state_filter(c, request.states)
        for i, state in enumerate(states):
            c.check(state is not None, f"states[{i}]", "is not an order state")
        c.check(0 <= request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
        if convert.check_count(c, "node_ids", len(request.node_ids), 0, MAX_LISTED_NODES, "node ids"):
            for i, node_id in enumerate(request.node_ids):
                convert.check_id(c, f"node_ids[{i}]", node_id)
        created = _time_window(c, "created", request.created) if request.HasField("created") else TimeWindow()
        updated = _time_window(c, "updated", request.updated) if request.HasField("updated") else TimeWindow()
        after = ""
        if request.page_token:
            try:
                after = decode_page_token(request.page_token)
            except InvalidRequestError as error:  # reported with every other bad field
                c.add("page_token", str(error))
        c.raise_if_any()
        size = request.page_size or 100
        wanted = OrderFilter(
            states=[s for s in states if s is not None],
            node_ids=sorted(set(request.node_ids)),
            created=created,
            updated=updated,
        )
        found = self._store.list_orders(wanted, size + 1, after)
        response = orders_pb2.ListOrdersResponse()
        for row in found[:size]:
            response.orders.add(
                order_id=row.order_id,
                state=state_to_proto(row.state),
                updated_at=convert.timestamp_to_proto(row.updated_at),
                created_at=convert.timestamp_to_proto(row.created_at),
            )
        if len(found) > size:
            response.next_page_token = encode_page_token(found[size - 1].order_id)
        return response

    # --- transitions -------------------------------------------------------------------

    def _mutate(
        self, key: RequestKey, order_id: str, action: Action, plan: Callable[[OrderRecord], changes.OrderChange]
    ) -> tuple[orders_pb2.OrderResponse, changes.OrderChange | None]:
        """Apply ``plan`` (a pure function of the order) in one store transaction; the response and
        the change applied (None on a replay)."""
        stored = self._store.replay(key)
        change = None
        if stored is None:
            stored, change = self._store.mutate_order(key, order_id, action, self._now(), plan)
        return order_response(stored), change

    def Cancel(self, request: orders_pb2.CancelRequest, context: grpc.ServicerContext) -> orders_pb2.OrderResponse:
        c = convert.Collector()
        key = _key(c, "Cancel", request)
        convert.check_id(c, "order_id", request.order_id)
        targets = _targets(c, request.lines)
        convert.check_text(c, "reason", request.reason, limits.MAX_TEXT_LENGTH)
        c.raise_if_any()
        plan = functools.partial(changes.cancel, targets=targets, reason=request.reason)
        response, change = self._mutate(key, request.order_id, Action.CANCEL, plan)
        if change is not None and change.freed_skus:  # durable; units it freed go to orders waiting for them
            self._resourcer.heal_after_commit(change.freed_skus)
        return response

    def Release(self, request: orders_pb2.ReleaseRequest, context: grpc.ServicerContext) -> orders_pb2.OrderResponse:
        c = convert.Collector()
        key = _key(c, "Release", request)
        convert.check_id(c, "order_id", request.order_id)
        c.raise_if_any()
        return self._mutate(key, request.order_id, Action.RELEASE, changes.release)[0]

    def ConfirmShipment(
        self, request: orders_pb2.ConfirmShipmentRequest, context: grpc.ServicerContext
    ) -> orders_pb2.OrderResponse:
        c = convert.Collector()
        key = _key(c, "ConfirmShipment", request)
        convert.check_id(c, "order_id", request.order_id)
        convert.check_id(c, "node_id", request.node_id)
        targets = _targets(c, request.lines)
        now = self._now()
        carriage = carriage_from_proto(c, request, now)
        c.raise_if_any()
        plan = functools.partial(
            changes.ship, node_id=request.node_id, targets=targets, shipment_id=uuid.uuid4().hex, carriage=carriage
        )
        return self._mutate(key, request.order_id, Action.SHIP, plan)[0]

    def Return(self, request: orders_pb2.ReturnRequest, context: grpc.ServicerContext) -> orders_pb2.OrderResponse:
        c = convert.Collector()
        key = _key(c, "Return", request)
        convert.check_id(c, "order_id", request.order_id)
        targets = _targets(c, request.lines)
        c.check(bool(request.lines), "lines", "name the lines (and units) returned")
        c.check(
            request.disposition in (orders_pb2.DISPOSITION_RESTOCK, orders_pb2.DISPOSITION_DISPOSE),
            "disposition",
            "must be RESTOCK or DISPOSE",
        )
        if request.node_id:
            convert.check_id(c, "node_id", request.node_id)
        c.raise_if_any()
        now = self._now()
        restock = request.disposition == orders_pb2.DISPOSITION_RESTOCK
        snapshot = self._deps.network.get()
        if request.node_id and request.node_id not in snapshot.index:
            raise _bad("node_id", f"node {request.node_id!r} does not exist")
        # The receiving node: the caller's, else the cheapest node taking returns that the rules
        # for returns allow (engine/returns.py), else the node that last shipped the line. Chosen
        # before the transaction: the ship-to never changes, and geocoding reads the catalogue.
        route = None if request.node_id else self._return_route(snapshot, request.order_id, targets, now)
        plan = functools.partial(
            changes.return_units,
            targets=targets,
            restock=restock,
            node_id=request.node_id or (route.node_id if route is not None else ""),
            rules=route.fired_rules if route is not None else (),
            rule_set_version=route.rule_set_version if route is not None else "",
        )
        response, _ = self._mutate(key, request.order_id, Action.RETURN, plan)
        if restock:  # restocked units are stock arriving: orders waiting for them may heal
            self._resourcer.heal_after_commit({line.sku for line in response.order.lines})
        return response

    def _return_route(
        self, snapshot: NetworkSnapshot, order_id: str, targets: Sequence[tuple[str, int]], now: datetime
    ) -> ReturnRoute | None:
        """Where the units named come back to, by the rules for returns and the carrier's rates;
        None when nothing qualifies (or the request is wrong: the transaction then says how)."""
        record = self._store.get_order(order_id, now)
        order = self._decider.stored_order(record.request)
        units = {line_id: n for line_id, n in changes.returned_units(record, targets).items() if n > 0}
        if not any(x.line_id in units for x in order.lines):
            return None
        returned = sub_order(order, units)
        return receiving_node(snapshot, returned, self._deps.rules.return_directives_for(returned, snapshot))

    def Reallocate(
        self, request: orders_pb2.ReallocateRequest, context: grpc.ServicerContext
    ) -> orders_pb2.AllocateResponse:
        started = time.perf_counter()
        c = convert.Collector()
        key = _key(c, "Reallocate", request)
        convert.check_id(c, "order_id", request.order_id)
        if request.node_id or request.lines:
            convert.check_id(c, "node_id", request.node_id)
        targets = _targets(c, request.lines)
        c.raise_if_any()
        if not request.node_id:  # no node rejected: source the units still waiting for stock again
            what = Resource(Action.RESOURCE, "RESOURCED", {"cause": "requested", "reason": request.reason})
            limit = solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context)
            done = self._resourcer.resource(request.order_id, lambda _: key, what, limit)
            assert done is not None  # only healing skips
            return allocate_response(done)
        reason = request.reason or "reallocated away from this node"

        def prepare(record: OrderRecord) -> Resourcing:
            moves = changes.reallocation_moves(record, request.node_id, targets)
            # This node, and every node that rejected units of a moved line before, stays away.
            rejected = {line_id: request.node_id for line_id in moves}
            return Resourcing(
                action=Action.REALLOCATE,
                units=moves,
                exclusions=line_exclusions(record, rejected, reason),
                plan=lambda sourced: functools.partial(
                    changes.reallocate, node_id=request.node_id, moves=moves, sourced=sourced, reason=request.reason
                ),
                hold_ms=record.hold_ms or DEFAULT_HOLD_MS,
            )

        stored = self._allocator.existing_order(
            request.order_id,
            lambda _: key,
            prepare,
            lambda: solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context),
            started,
        )
        assert stored is not None  # only healing skips
        return allocate_response(stored)

    # --- the exception queue ------------------------------------------------------------

    def ListExceptions(
        self, request: orders_pb2.ListExceptionsRequest, context: grpc.ServicerContext
    ) -> orders_pb2.ListExceptionsResponse:
        c = convert.Collector()
        states = _state_filter(c, request.states)
        for i, queued in enumerate(states):
            c.check(
                queued in QUEUED_STATES,
                f"states[{i}]",
                "must be HELD, BACKORDERED, PARTIALLY_ALLOCATED or PARTIALLY_SHIPPED",
            )
        c.check(0 <= request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
        if request.rule_id:
            convert.check_id(c, "rule_id", request.rule_id)
        after = None
        if request.page_token:
            try:
                stamp, order_id = json.loads(decode_page_token(request.page_token))
                # The store reads the stamp back as an aware time and the id as an order id.
                if datetime.fromisoformat(stamp).tzinfo is None:
                    raise ValueError(stamp)
                if not isinstance(order_id, str) or id_problem(order_id) is not None:
                    raise ValueError(order_id)
                after = (stamp, order_id)
            except (InvalidRequestError, ValueError, TypeError, RecursionError):  # forged: JSON nested deep
                c.check(False, "page_token", "is not a token this call returned")
        c.raise_if_any()
        chosen = [s for s in states if s is not None] or [OrderState.HELD, OrderState.BACKORDERED]
        records, more = self._store.list_exceptions(chosen, request.rule_id, request.page_size or 100, after)
        response = orders_pb2.ListExceptionsResponse()
        for record in records:
            held = record.state is OrderState.HELD  # its units await review, not stock
            waiting = {x.sku: 0 for x in record.lines}
            for x in record.lines:
                waiting[x.sku] += x.quantities.open if held else x.quantities.backordered
            if held:
                reason = hold_reason(record.holds)
            else:
                reason = "waiting for stock: " + ", ".join(f"{n} x {sku}" for sku, n in sorted(waiting.items()) if n)
            response.orders.add(
                order_id=record.order_id,
                state=state_to_proto(record.state),
                holds=[sourcing_pb2.RuleHold(rule_id=r, reason=why) for r, why in record.holds],
                backordered_units=0 if held else sum(waiting.values()),
                awaiting_review_units=sum(waiting.values()) if held else 0,
                created_at=convert.timestamp_to_proto(record.created_at),
                updated_at=convert.timestamp_to_proto(record.updated_at),
                reason=reason,
            )
        if more is not None:
            response.next_page_token = encode_page_token(json.dumps(list(more)))
        return response

    def ReleaseHold(
        self, request: orders_pb2.ReleaseHoldRequest, context: grpc.ServicerContext
    ) -> orders_pb2.AllocateResponse:
        c = convert.Collector()
        key = _key(c, "ReleaseHold", request)
        convert.check_id(c, "order_id", request.order_id)
        c.check(bool(request.approved_by.strip()), "approved_by", "is required: who approved the release")
        convert.check_text(c, "approved_by", request.approved_by, limits.MAX_ID_LENGTH)
        convert.check_text(c, "reason", request.reason, limits.MAX_TEXT_LENGTH)
        c.check(0 <= request.hold_ms <= MAX_HOLD_MS, "hold_ms", f"must be between 0 and {MAX_HOLD_MS}")
        c.raise_if_any()
        what = Resource(
            Action.RELEASE_HOLD,
            "HOLD_RELEASED",
            {"approved_by": request.approved_by, "reason": request.reason},
            clear_holds=True,
            hold_ms=request.hold_ms,
        )
        limit = solver_time_limit_ms(request.solver_time_limit_ms, self._deps.config.solver_time_limit_ms, context)
        done = self._resourcer.resource(request.order_id, lambda _: key, what, limit)
        assert done is not None  # only healing skips
        return allocate_response(done)

    # --- the event feed -----------------------------------------------------------------

    def WatchEvents(
        self, request: orders_pb2.WatchEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[orders_pb2.WatchedEvent]:
        """Replay after the cursor, then follow by polling (see server/store/event_feed.py).

        Polling costs one indexed read per interval per watcher while idle; it holds one handler
        thread for as long as the client watches. Ends when the client cancels (the context goes
        inactive) or the server stops (deps.stopping), within one poll interval.
        """
        c = convert.Collector()
        c.check(request.after_cursor >= 0, "after_cursor", "must be 0 or a cursor this call returned")
        c.raise_if_any()
        cursor = request.after_cursor
        stopping = self._deps.stopping
        while context.is_active() and not stopping.is_set():
            self._store.sequence_events()
            batch = self._store.events_after(cursor, WATCH_BATCH)
            for e in batch:
                if not e.order_id:  # rule activations, network changes, shortfalls: for the relay, not here
                    cursor = e.seq
                    continue
                watched = orders_pb2.WatchedEvent(cursor=e.seq, order_id=e.order_id)
                fill_event(watched.event, e.id, e.type, e.payload, e.created_at)
                yield watched
                cursor = e.seq
            if len(batch) < WATCH_BATCH:
                stopping.wait(WATCH_POLL_SECONDS)

    # --- maintenance -------------------------------------------------------------------

    def SweepExpired(
        self, request: orders_pb2.SweepExpiredRequest, context: grpc.ServicerContext
    ) -> orders_pb2.SweepExpiredResponse:
        count, order_ids = self._store.sweep_expired(self._now())
        return orders_pb2.SweepExpiredResponse(expired_reservations=count, order_ids=order_ids)

    def CheckConservation(
        self, request: orders_pb2.CheckConservationRequest, context: grpc.ServicerContext
    ) -> orders_pb2.CheckConservationResponse:
        problems, positions = self._store.check_conservation()
        return orders_pb2.CheckConservationResponse(ok=not problems, problems=problems, positions_checked=positions)


def _time_window(c: convert.Collector, path: str, window: orders_pb2.TimeWindow) -> TimeWindow:
    """[start, end) from the message; a bound left unset is no bound."""
    start = convert.timestamp_from_proto(c, f"{path}.start", window.start) if window.HasField("start") else None
    end = convert.timestamp_from_proto(c, f"{path}.end", window.end) if window.HasField("end") else None
    if start is not None and end is not None:
        c.check(start < end, f"{path}.end", f"must be after {path}.start")
    return TimeWindow(start, end)
