"""Server interceptors: metrics outermost, then error mapping, then the call's deadline, around
every handler; and the token check, which refuses a call before it is queued.

Each ``around`` interceptor is a context manager around the handler's behaviour, so one wrapper
serves unary and streaming handlers alike (health Watch and reflection are streaming).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import grpc
from google.rpc import status_pb2
from grpc_status import rpc_status

from server.api.auth import Refusal, Tokens, authorize
from server.api.limiter import refusal_handler
from server.api.status import to_grpc_status
from server.caller import calling_as
from server.deadline import deadline_after
from server.metrics import ServerMetrics

_log = logging.getLogger(__name__)

# around(method, grpc_type, context): grpc_type as the conventional metrics label spells it.
Around = Callable[[str, str, grpc.ServicerContext], AbstractContextManager[None]]

# (handler attribute, grpc_type, streaming response, handler factory)
_KINDS = (
    ("unary_unary", "unary", False, grpc.unary_unary_rpc_method_handler),
    ("unary_stream", "server_stream", True, grpc.unary_stream_rpc_method_handler),
    ("stream_unary", "client_stream", False, grpc.stream_unary_rpc_method_handler),
    ("stream_stream", "bidi_stream", True, grpc.stream_stream_rpc_method_handler),
)


def _keep_pool(behaviour: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """gRPC reads a handler's own thread pool from this attribute (server.api.limiter sets it): a
    wrapper that dropped it would move the call back onto the business pool, behind the very
    backlog it must not wait for."""
    if hasattr(behaviour, "experimental_thread_pool"):
        wrapper.experimental_thread_pool = behaviour.experimental_thread_pool  # type: ignore[attr-defined]
    return wrapper


def _wrap(behaviour: Callable[..., Any], around: Around, method: str, kind: str, streaming: bool) -> Callable[..., Any]:
    if streaming:

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with around(method, kind, context):
                yield from behaviour(request, context)

        return _keep_pool(behaviour, stream)

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        with around(method, kind, context):
            return behaviour(request, context)

    return _keep_pool(behaviour, unary)


class AroundInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Runs every handler inside ``around(method, context)``."""

    def __init__(self, around: Around) -> None:
        self._around = around
        # gRPC asks on every call; a method has its handler and at most one refusal handler
        # (server.api.limiter), each wrapped once.
        self._wrapped: dict[tuple[str, int], tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        key = (method, id(handler))
        cached = self._wrapped.get(key)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(handler, method)
        self._wrapped[key] = (handler, wrapped)  # holding the handler keeps its id unique
        return wrapped

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        for attribute, kind, streaming, factory in _KINDS:
            behaviour = getattr(handler, attribute)
            if getattr(behaviour, "experimental_non_blocking", False):
                # Health Watch: it registers a callback and returns at once, on its own pool; a
                # wrapper would have to take that callback and would time nothing useful.
                return handler
            if behaviour is not None:
                return factory(
                    _wrap(behaviour, self._around, method, kind, streaming),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


def _already_aborted(context: grpc.ServicerContext) -> bool:
    code = context.code()  # set when the handler itself called context.abort()
    return code is not None and code != grpc.StatusCode.OK


@contextmanager
def _map_errors(method: str, kind: str, context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if _already_aborted(context):
            raise
        context.abort_with_status(to_grpc_status(error, method))


def error_interceptor() -> AroundInterceptor:
    """Exceptions become statuses through server.api.status.TABLE, and nothing else does."""
    return AroundInterceptor(_map_errors)


@contextmanager
def _within_deadline(method: str, kind: str, context: grpc.ServicerContext) -> Iterator[None]:
    # Unary calls only: streams are reads and follows (WatchEvents), and a context variable set
    # in a generator must be reset in the thread and context that set it.
    if kind != "unary":
        yield
        return
    with deadline_after(context.time_remaining()):
        yield


def deadline_interceptor() -> AroundInterceptor:
    """The caller's deadline, for the store to check around every write (server/deadline.py)."""
    return AroundInterceptor(_within_deadline)


def split_method(method: str) -> tuple[str, str]:
    """``/oms.sourcing.v1.NetworkService/UpsertNodes`` → (service, method)."""
    _, _, rest = method.partition("/")
    service, _, name = rest.partition("/")
    return service, name


def metrics_interceptor(metrics: ServerMetrics) -> AroundInterceptor:
    @contextmanager
    def observe(method: str, kind: str, context: grpc.ServicerContext) -> Iterator[None]:
        service, name = split_method(method)
        labels = (kind, service, name)
        metrics.started.labels(*labels).inc()
        metrics.inflight.inc()
        start = time.perf_counter()
        code: grpc.StatusCode = grpc.StatusCode.OK
        try:
            yield
        except Exception:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except BaseException:  # a streaming call's generator closed by the client going away
            code = grpc.StatusCode.CANCELLED
            raise
        else:
            code = context.code() or grpc.StatusCode.OK
        finally:
            elapsed = time.perf_counter() - start
            metrics.inflight.dec()
            metrics.handled.labels(*labels, code.name).inc()
            metrics.handling_seconds.labels(*labels).observe(elapsed)
            _log.debug("rpc", extra={"method": method, "code": code.name, "ms": round(elapsed * 1000, 3)})

    return AroundInterceptor(observe)


class AuthInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Bearer tokens and roles (server.api.auth), checked in gRPC's polling thread: a refused call
    runs on ``refusal_pool`` and never takes a business thread or counts against the limiter.

    Only refusals for a known token's wrong role are logged (its name, never the token): an
    unauthenticated flood must not flood the log too; metrics count it by code.
    """

    def __init__(self, tokens: Tokens, refusal_pool: futures.ThreadPoolExecutor) -> None:
        self._tokens = tokens
        self._pool = refusal_pool
        # One refusal handler per (method, reason), built once: the outer interceptors cache
        # what they wrap by handler, so a new handler per refused call would grow their caches.
        self._refusals: dict[tuple[str, Refusal], grpc.RpcMethodHandler] = {}
        # Per (method, token name, inner handler): the handler that runs the call as that caller,
        # built once. The inner one is the limiter's business or refusal handler, each built once
        # per method, so this stays bounded and so do the outer interceptors' caches.
        self._callers: dict[tuple[str, str, int], tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        principal, refusal = authorize(self._tokens, method, handler_call_details.invocation_metadata or ())
        if refusal is None:
            return handler if principal is None else self._as(method, principal.name, handler)
        if principal is not None:
            _log.warning(
                "permission denied", extra={"token_name": principal.name, "role": principal.role, "method": method}
            )
        key = (method, refusal)
        refused = self._refusals.get(key)
        if refused is None:
            status = rpc_status.to_status(status_pb2.Status(code=refusal.code.value[0], message=refusal.message))
            refused = refusal_handler(handler, status, self._pool)
            self._refusals[key] = refused
        return refused

    def _as(self, method: str, name: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """``handler`` run with ``name`` as the caller (server.caller); streams are reads, left alone."""
        if handler.unary_unary is None:
            return handler
        key = (method, name, id(handler))
        cached = self._callers.get(key)
        if cached is not None and cached[0] is handler:
            return cached[1]
        behaviour = handler.unary_unary

        def as_caller(request: Any, context: grpc.ServicerContext) -> Any:
            with calling_as(name):
                return behaviour(request, context)

        wrapped = grpc.unary_unary_rpc_method_handler(
            as_caller,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._callers[key] = (handler, wrapped)
        return wrapped
