"""Who is calling: the authenticated token's name for the call being handled ("" without auth).

``server.api.interceptors.AuthInterceptor`` sets it around each authorized call's handler, on the
thread that runs the handler; what the service records as done by someone reads it, so an
audit entry names the credential that made the call, not only what the request says
(``approved_by``, ``activated_by`` are free text anyone may type).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CALLER: ContextVar[str] = ContextVar("oms_sourcing_caller", default="")


def current_caller() -> str:
    return _CALLER.get()


@contextmanager
def calling_as(name: str) -> Iterator[None]:
    token = _CALLER.set(name)
    try:
        yield
    finally:
        _CALLER.reset(token)


def with_caller(payload: dict[str, object]) -> dict[str, object]:
    """``payload`` plus ``by``, the caller's token name, when the call was authenticated."""
    caller = current_caller()
    return {**payload, "by": caller} if caller else payload
