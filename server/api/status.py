"""Exceptions to gRPC statuses: ONE table, applied by the error interceptor to every RPC.

Handlers raise domain exceptions and never build statuses themselves. Each row turns one
exception type (and its subclasses) into a ``google.rpc.Status`` with rich details that
``grpc_status`` carries in the trailers. Anything not in the table is a bug: the caller gets
INTERNAL with a request id (google.rpc.RequestInfo) and the traceback goes to the server log,
never to the caller.

Choices worth knowing:

- ``NegativeStockError`` (deltas that would take on hand below zero) is FAILED_PRECONDITION with
  a google.rpc.PreconditionFailure whose subjects name each update's quantity field
  (``updates[3].delta``): the request is well formed and the same request succeeds once the
  stock is there, which is what that code means in google.rpc.Code. Malformed counts (negative
  absolute counts, absurd deltas) never reach the store: they are INVALID_ARGUMENT from the
  conversion layer. Deltas that would take on hand above the largest absolute count are
  INVALID_ARGUMENT too (an InvalidInputError from the store, which alone knows on hand): a
  count that size is malformed however it is sent. Going below what is reserved is not an
  error: the holds give way.
- ``UnknownNodeError`` names ``updates[i].node_id``: the store raises it only from
  ``update_inventory``, whose updates the service passes in request order.
- ``DeadlineExceeded`` (server/deadline.py) is DEADLINE_EXCEEDED: the call's deadline passed
  before its transaction committed, which was rolled back or never began. The caller has usually
  stopped listening by then; the status is for the logs and metrics, and for what it says: a retry
  with the same request key is safe.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from engine.errors import InvalidInputError
from engine.orders.lifecycle import TransitionError
from server.deadline import DeadlineExceeded
from server.errors import (
    AllocationAborted,
    IdempotencyKeyConflict,
    InvalidRequestError,
    NegativeStockError,
    NotFoundError,
    OrderExistsError,
    OutsidePilotError,
    ReservationConflict,
    UnknownNodeError,
)

_log = logging.getLogger(__name__)


def _status(code: int, message: str, *details: Message) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


# Details travel in trailing metadata, which clients cap (8 KiB by default in gRPC core): a
# request with 10,000 bad entries must still get a readable answer, so details are budgeted.
_DETAILS_BUDGET_BYTES = 3000
_MESSAGE_FIELDS = 10


def _bad_request(pairs: list[tuple[str, str]]) -> error_details_pb2.BadRequest:
    """The violations that fit the budget, then one saying how many more there were."""
    request = error_details_pb2.BadRequest()
    used = 0
    for shown, (field, description) in enumerate(pairs):
        violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=description[:200])
        used += violation.ByteSize() + 3
        if used > _DETAILS_BUDGET_BYTES:
            request.field_violations.add(field="", description=f"and {len(pairs) - shown} more violations")
            break
        request.field_violations.append(violation)
    return request


def _field_summary(fields: list[str]) -> str:
    distinct = list(dict.fromkeys(fields))
    more = len(distinct) - _MESSAGE_FIELDS
    return ", ".join(distinct[:_MESSAGE_FIELDS]) + (f" and {more} more" if more > 0 else "")


def _invalid_input(error: InvalidInputError) -> status_pb2.Status:
    pairs = [(v.field, v.description) for v in error.violations]
    summary = _field_summary([f or d for f, d in pairs])  # no field: the request as a whole, as described
    return _status(code_pb2.INVALID_ARGUMENT, f"invalid request: {summary}", _bad_request(pairs))


def _unknown_node(error: UnknownNodeError) -> status_pb2.Status:
    pairs = [
        (f"updates[{i}].node_id", f"node {node_id!r} does not exist (UpsertNodes first)")
        for i, node_id in zip(error.indexes, error.node_ids, strict=False)
    ]
    return _status(
        code_pb2.INVALID_ARGUMENT, f"unknown nodes: {_field_summary(list(error.node_ids))}", _bad_request(pairs)
    )


def _negative_stock(error: NegativeStockError) -> status_pb2.Status:
    failure = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type="STOCK", subject=field, description="would take on hand below zero"
            )
            for field in error.fields[: _MESSAGE_FIELDS * 5]
        ]
    )
    subjects = _field_summary(list(error.fields))
    return _status(code_pb2.FAILED_PRECONDITION, f"not enough stock for {subjects}", failure)


def _not_found(error: NotFoundError) -> status_pb2.Status:
    info = error_details_pb2.ResourceInfo(
        resource_type=error.resource_type, resource_name=error.resource_name, description=error.description
    )
    return _status(code_pb2.NOT_FOUND, error.description, info)


@dataclass(frozen=True, slots=True)
class _Row:
    exception: type[BaseException]
    to_status: Callable[[BaseException], status_pb2.Status]


def _row(exception: type[Exception], to_status: Callable[..., status_pb2.Status]) -> _Row:
    return _Row(exception, to_status)


def _invalid_store_request(error: InvalidRequestError) -> status_pb2.Status:
    # Named like every other bad field; the store knows which argument it could not act on.
    summary = f"invalid request: {error.field}" if error.field else str(error)
    return _status(code_pb2.INVALID_ARGUMENT, summary, _bad_request([(error.field, str(error))]))


def _transition(error: TransitionError) -> status_pb2.Status:
    failure = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type="ORDER_STATE", subject=f"orders/{error.order_id}", description=error.detail
            )
        ]
    )
    return _status(code_pb2.FAILED_PRECONDITION, error.detail, failure)


def _outside_pilot(error: OutsidePilotError) -> status_pb2.Status:
    # PILOT_SCOPE: the caller routes the order elsewhere rather than fixing it; the subject is the
    # request field, and the description names the channel or SKU.
    failure = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(type="PILOT_SCOPE", subject=field, description=why[:200])
            for field, _, why in error.outside[: _MESSAGE_FIELDS * 5]
        ]
    )
    names = _field_summary([repr(name[:60]) for _, name, _ in error.outside])
    return _status(code_pb2.FAILED_PRECONDITION, f"outside the pilot scope: {names}", failure)


def _key_reused(error: IdempotencyKeyConflict) -> status_pb2.Status:
    info = error_details_pb2.ResourceInfo(resource_type="request_key", resource_name=error.key, description=str(error))
    return _status(code_pb2.ALREADY_EXISTS, str(error), info)


def _order_exists(error: OrderExistsError) -> status_pb2.Status:
    info = error_details_pb2.ResourceInfo(resource_type="order", resource_name=error.order_id, description=str(error))
    return _status(code_pb2.ALREADY_EXISTS, str(error), info)


def _aborted(error: Exception) -> status_pb2.Status:
    # Retrying with the same request_key is safe: nothing was written.
    return _status(code_pb2.ABORTED, str(error), error_details_pb2.RetryInfo())


def _deadline_exceeded(error: DeadlineExceeded) -> status_pb2.Status:
    return _status(code_pb2.DEADLINE_EXCEEDED, str(error))


# THE table. First match wins, so list subclasses before their bases.
TABLE: tuple[_Row, ...] = (
    _row(InvalidInputError, _invalid_input),
    _row(UnknownNodeError, _unknown_node),
    _row(NegativeStockError, _negative_stock),
    _row(InvalidRequestError, _invalid_store_request),
    _row(NotFoundError, _not_found),
    _row(TransitionError, _transition),
    _row(OutsidePilotError, _outside_pilot),
    _row(IdempotencyKeyConflict, _key_reused),
    _row(OrderExistsError, _order_exists),
    _row(AllocationAborted, _aborted),
    _row(ReservationConflict, _aborted),
    _row(DeadlineExceeded, _deadline_exceeded),
)


def to_status(error: BaseException, method: str = "") -> status_pb2.Status:
    """The status a caller sees for ``error``; unexpected errors are logged with a request id."""
    for row in TABLE:
        if isinstance(error, row.exception):
            return row.to_status(error)
    request_id = uuid.uuid4().hex
    _log.error("internal error", exc_info=error, extra={"request_id": request_id, "method": method})
    return _status(
        code_pb2.INTERNAL,
        f"internal error; quote request id {request_id}",
        error_details_pb2.RequestInfo(request_id=request_id),
    )


def to_grpc_status(error: BaseException, method: str = "") -> grpc.Status:
    return rpc_status.to_status(to_status(error, method))
