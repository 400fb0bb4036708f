"""Server interceptors: one around every handler (metrics outermost, then error mapping, then the
call's deadline), and the token check, which refuses a call before it is queued.

The three concerns share one wrapper, written out rather than stacked as context managers: a
call through three generator-based wrappers cost about 15-30 µs (benchmarks/interceptors_bench.py),
a tenth of the trivial call's server CPU; this one costs a few. Metric children (the labelled
counters and histogram of a method) are looked up once per method, not on every call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.rpc import status_pb2
from grpc_status import rpc_status

from server.api.auth import Refusal, Tokens, authorize
from server.api.limiter import refusal_handler
from server.api.status import to_grpc_status
from server.caller import calling_as
from server.deadline import end_deadline, start_deadline
from server.metrics import ServerMetrics

_log = logging.getLogger(__name__)

# (handler attribute, grpc_type as the conventional metrics label spells it, streaming response, factory)
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


def _already_aborted(context: grpc.ServicerContext) -> bool:
    code = context.code()  # set when the handler itself called context.abort()
    return code is not None and code != grpc.StatusCode.OK


def split_method(method: str) -> tuple[str, str]:
    """``/oms.sourcing.v1.NetworkService/UpsertNodes`` → (service, method)."""
    _, _, rest = method.partition("/")
    service, _, name = rest.partition("/")
    return service, name


class _MethodMetrics:
    """One method's metric children, looked up once; ``handled`` per status code as codes appear."""

    def __init__(self, metrics: ServerMetrics, method: str, kind: str) -> None:
        service, name = split_method(method)
        self._labels = (kind, service, name)
        self._metrics = metrics
        self.started = metrics.started.labels(*self._labels)
        self.seconds = metrics.handling_seconds.labels(*self._labels)
        self.inflight = metrics.inflight
        self._handled: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        child = self._handled.get(code)
        if child is None:
            child = self._handled[code] = self._metrics.handled.labels(*self._labels, code.name)
        return child


class CallInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Every handler, wrapped once per method: counted and timed (grpc_server_* metrics, the status
    code as the caller sees it), its exceptions turned into statuses through
    server.api.status.TABLE and nothing else, and, for unary calls, the caller's deadline set for
    the store to check around every write (server/deadline.py). Streams (health Watch, reflection,
    WatchEvents) are reads and follows: no deadline, and a context variable set in a generator
    would have to be reset in the thread and context that set it."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics
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
                counted = _MethodMetrics(self._metrics, method, kind)
                wrap = _stream if streaming else _unary
                return factory(
                    _keep_pool(behaviour, wrap(behaviour, counted, method)),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


def _unary(behaviour: Callable[..., Any], counted: _MethodMetrics, method: str) -> Callable[..., Any]:
    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        counted.started.inc()
        counted.inflight.inc()
        start = time.perf_counter()
        failed = False
        deadline = start_deadline(context.time_remaining())
        try:
            return behaviour(request, context)
        except Exception as error:
            failed = True
            if not _already_aborted(context):
                context.abort_with_status(to_grpc_status(error, method))  # raises
            raise
        finally:
            end_deadline(deadline)
            code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
            _finish(counted, method, code, start)

    return unary


def _stream(behaviour: Callable[..., Any], counted: _MethodMetrics, method: str) -> Callable[..., Any]:
    def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        counted.started.inc()
        counted.inflight.inc()
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield from behaviour(request, context)
            code = context.code() or grpc.StatusCode.OK
        except Exception as error:
            code = grpc.StatusCode.UNKNOWN
            if not _already_aborted(context):
                context.abort_with_status(to_grpc_status(error, method))  # raises
            raise
        except BaseException:  # the generator closed by the client going away
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            if code is grpc.StatusCode.UNKNOWN:
                code = context.code() or grpc.StatusCode.UNKNOWN
            _finish(counted, method, code, start)

    return stream


def _finish(counted: _MethodMetrics, method: str, code: grpc.StatusCode, start: float) -> None:
    elapsed = time.perf_counter() - start
    counted.inflight.dec()
    counted.handled(code).inc()
    counted.seconds.observe(elapsed)
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("rpc", extra={"method": method, "code": code.name, "ms": round(elapsed * 1000, 3)})


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
