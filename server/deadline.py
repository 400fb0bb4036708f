"""The deadline of the call being handled, which every write transaction checks.

A call past its deadline writes nothing: the caller has given up and will retry or report a
failure, so a change committed now is one it never hears of. The interceptors set the deadline
around each unary call's handler (a context variable, like ``server.caller``: it reaches every
store write, however deep, without a parameter on each method). The store's transaction helpers
call ``check_deadline`` after taking their connection and write lock and before BEGIN, and again
just before COMMIT, and roll back when it has passed. Work that runs with no call (the sweeper,
start-up) or after the call's own commit (healing, ``without_deadline``) has none.

One window stays open: a COMMIT that starts before the deadline and whose answer reaches the
caller after it (or never). The cure is the request key: retried with the same key, the call
returns the stored answer (docs/decisions.md, *Deadlines*).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from engine.errors import SourcingError

# time.monotonic() at which the call's deadline passes; None: no deadline.
_EXPIRES_AT: ContextVar[float | None] = ContextVar("oms_sourcing_deadline", default=None)


class DeadlineExceeded(SourcingError):
    """The call's deadline passed before its transaction committed; nothing of it was written."""


def start_deadline(seconds: float | None) -> Token[float | None]:
    """The deadline ``seconds`` from now (None: none) for the current context, until ``end_deadline``
    (the interceptor's form of ``deadline_after``, without a generator per call)."""
    return _EXPIRES_AT.set(None if seconds is None else time.monotonic() + seconds)


def end_deadline(token: Token[float | None]) -> None:
    _EXPIRES_AT.reset(token)


@contextmanager
def deadline_after(seconds: float | None) -> Iterator[None]:
    """Writes within this block must commit within ``seconds`` from now (None: no deadline)."""
    token = start_deadline(seconds)
    try:
        yield
    finally:
        end_deadline(token)


@contextmanager
def without_deadline() -> Iterator[None]:
    """For work the service does on its own after the call's change committed (healing)."""
    token = _EXPIRES_AT.set(None)
    try:
        yield
    finally:
        _EXPIRES_AT.reset(token)


def check_deadline(before: str) -> None:
    """Raise DeadlineExceeded when the current call's deadline has passed (``before``: "BEGIN", "COMMIT")."""
    expires_at = _EXPIRES_AT.get()
    if expires_at is not None and time.monotonic() >= expires_at:
        raise DeadlineExceeded(
            f"the call's deadline passed before {before}: nothing was written;"
            " a retry (with the same request key) is safe"
        )
