"""The order lifecycle's errors that are not the engine's (which has TransitionError)."""

from __future__ import annotations


class IdempotencyKeyConflict(Exception):
    """A request key already used for a different request; nothing was changed."""

    def __init__(self, key: str, method: str) -> None:
        self.key = key
        self.method = method
        super().__init__(f"request_key {key!r} was already used for a different request ({method})")


class OrderExistsError(Exception):
    """Allocate named an order id that already exists (under another request key)."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id!r} already exists; use a new order id or the original request_key")


class ReservationConflict(Exception):
    """A conditional reservation found less stock than the decision assumed (a lost race).

    Raised inside the write transaction, which rolls back; the caller decides again.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class HoldsNotMoved(ReservationConflict):
    """ReoptimizePending's group could not move its holds: ``order_id`` changed since it was read
    (``stock`` False), or the free stock the group needs is gone (``stock`` True). Rolled back."""

    def __init__(self, order_id: str, detail: str, *, stock: bool = False) -> None:
        self.order_id = order_id
        self.stock = stock
        super().__init__(detail)


class AllocationAborted(Exception):
    """The race was lost more often than the server retries; the caller may retry with its key."""

    def __init__(self, order_id: str, attempts: int) -> None:
        self.order_id = order_id
        self.attempts = attempts
        super().__init__(
            f"order {order_id!r}: stock changed under {attempts} attempts; retry with the same request_key"
        )
