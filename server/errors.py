"""The server's exceptions: its part of the one hierarchy rooted at engine.errors.SourcingError.

Handlers, the store and the commands raise these; server/api/status.py maps each to the status a
caller sees, and docs/errors.md lists them with their codes. Nothing here knows gRPC.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import ReservationConflict as ReservationConflict  # the order model raises it too
from engine.errors import SourcingError


class NotFoundError(SourcingError):
    """A named resource does not exist (an order, a rule set version...)."""

    def __init__(self, resource_type: str, resource_name: str, description: str = "") -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        self.description = description or f"{resource_type} {resource_name!r} not found"
        super().__init__(self.description)


class IdempotencyKeyConflict(SourcingError):
    """A request key already used for a different request; nothing was changed."""

    def __init__(self, key: str, method: str) -> None:
        self.key = key
        self.method = method
        super().__init__(f"request_key {key!r} was already used for a different request ({method})")


class OrderExistsError(SourcingError):
    """Allocate named an order id that already exists (under another request key)."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id!r} already exists; use a new order id or the original request_key")


class HoldsNotMoved(ReservationConflict):
    """ReoptimizePending's group could not move its holds: ``order_id`` changed since it was read
    (``stock`` False), or the free stock the group needs is gone (``stock`` True). Rolled back."""

    def __init__(self, order_id: str, detail: str, *, stock: bool = False) -> None:
        self.order_id = order_id
        self.stock = stock
        super().__init__(detail)


class AllocationAborted(SourcingError):
    """The race was lost more often than the server retries; the caller may retry with its key."""

    def __init__(self, order_id: str, attempts: int) -> None:
        self.order_id = order_id
        self.attempts = attempts
        super().__init__(
            f"order {order_id!r}: stock changed under {attempts} attempts; retry with the same request_key"
        )


class OutsidePilotError(SourcingError):
    """An order or cart names a channel or SKU outside the pilot scope (server/pilot_scope.py):
    not decided, so the caller can send it to the system that still decides it. ``outside`` holds
    (field path, the channel or SKU, why) for every one."""

    def __init__(self, outside: Sequence[tuple[str, str, str]]) -> None:
        self.outside = tuple(outside)
        super().__init__("; ".join(why for _, _, why in self.outside))


class StoreError(SourcingError):
    """Base of the store's errors."""


class InvalidRequestError(StoreError, ValueError):
    """A malformed argument the store cannot act on (a bad page token, an ABSOLUTE count without as_of).

    ``field`` is the request field it came from, so the caller's error names it.
    """

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class MissingStandardRateError(InvalidRequestError):
    """A rate-table write would leave stored tables without STANDARD (orders without a level use it)."""

    def __init__(self, service_level: str) -> None:
        super().__init__(
            f"the network has no {service_level} rate table yet: include one, because stored tables"
            " replace the defaults and orders without a service level use it"
        )


class UnknownNodeError(StoreError):
    """A write named nodes that do not exist; ``indexes`` are the offending positions in the request."""

    def __init__(self, indexes: Sequence[int], node_ids: Sequence[str]) -> None:
        self.indexes = tuple(indexes)
        self.node_ids = tuple(node_ids)
        super().__init__(f"unknown node ids: {', '.join(sorted(set(node_ids)))}")


class NegativeStockError(StoreError):
    """Updates would take on-hand below zero; nothing was applied. ``fields`` name each one's
    quantity as the request spells it (``updates[3].delta``, ``updates[5].count.count``)."""

    def __init__(self, indexes: Sequence[int], fields: Sequence[str] = ()) -> None:
        self.indexes = tuple(indexes)
        self.fields = tuple(fields) or tuple(f"updates[{i}].delta" for i in self.indexes)
        super().__init__(f"updates at positions {list(indexes)} would make on-hand negative")


class UsageError(SourcingError):
    """Bad input from a command-line user: printed without a traceback, exit 2."""


class ImportFileError(UsageError):
    """An import file (or its mapping file) that cannot be read as a whole: a line past the
    length limit, no header, an unknown format, a bad mapping. Exit 2, nothing written."""


class RowsRejected(SourcingError):
    """An import found rejected rows and was not told to ``--accept-partial``: its transaction is
    rolled back, nothing written (docs/onboarding.md)."""

    def __init__(self, rejected: int) -> None:
        self.rejected = rejected
        super().__init__(f"{rejected:,} row(s) rejected; nothing was written")
