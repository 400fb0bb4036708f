"""Bounded business concurrency that never makes health checks wait or fail.

gRPC's own ``maximum_concurrent_rpcs`` counts every call, health checks included, so an overloaded
server answered its load balancer's probe with RESOURCE_EXHAUSTED and got pulled out of rotation
exactly when it was merely busy. Here instead:

- business calls run on a :class:`CountingExecutor` that knows how many calls it holds (queued or
  running); beyond ``limit`` a call is refused with RESOURCE_EXHAUSTED and a RetryInfo detail;
- health and reflection are exempt and run on a small pool of their own, so a backlog (or a store
  that blocks every handler thread) never delays them;
- server streams (``WatchEvents``) live for as long as their consumer listens: each runs on a
  thread of a stream pool with its own limit, so integrations that watch never take the handler
  threads that decisions need (four watchers once stopped a four-thread server deciding).

The admission check runs in gRPC's single polling thread, the only thread that submits to the
business pool, so the count cannot overshoot the limit between the check and the submit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Services an operator or a load balancer uses to look at the server: never refused, never queued.
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# What a refused caller is told to wait: about one decision's time at peak, so retries spread out
# instead of arriving again in the same millisecond.
RETRY_AFTER_SECONDS = 0.05


class CountingExecutor(futures.ThreadPoolExecutor):
    """A thread pool that knows how many tasks it holds, queued or running."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.max_workers = max_workers
        self._count_lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> futures.Future[_T]:
        with self._count_lock:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)  # also runs for a task cancelled at shutdown
        return future

    def _done(self, future: object) -> None:
        with self._count_lock:
            self._pending -= 1


def _on(pool: futures.ThreadPoolExecutor, behaviour: Callable[..., Any]) -> Callable[..., Any]:
    """Have gRPC run ``behaviour`` on ``pool`` (its per-handler thread pool hook)."""
    behaviour.experimental_thread_pool = pool  # type: ignore[attr-defined]
    return behaviour


def _exhausted_status(what: str) -> grpc.Status:
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(RETRY_AFTER_SECONDS * 1e9)))
    message = f"server busy: {what}; retry after {int(RETRY_AFTER_SECONDS * 1000)} ms"
    detail = any_pb2.Any()
    detail.Pack(retry)
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[detail]))


@dataclass(frozen=True)
class Lane:
    """A pool that runs one kind of business call, and how many such calls it may hold."""

    pool: CountingExecutor
    limit: int
    busy: str  # what a refused caller is told is full

    @property
    def full(self) -> bool:
        return self.pool.pending >= self.limit


class InflightLimiter(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses business calls beyond their lane's limit; routes server streams to ``streams``
    and exempt calls to ``light_pool``."""

    def __init__(
        self, pool: CountingExecutor, limit: int, light_pool: futures.ThreadPoolExecutor, streams: CountingExecutor
    ) -> None:
        self._calls = Lane(pool, limit, f"{limit} calls in flight")
        # A stream holds its thread for its lifetime: one waiting for a thread would wait for good.
        self._streams = Lane(streams, streams.max_workers, f"{streams.max_workers} event streams open")
        self._light_pool = light_pool
        # Handlers never change per method, so the replacements are built once and reused.
        self._light: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._streamed: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._refusals: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        if method.startswith(EXEMPT_PREFIXES):
            return self._exempt(method, handler)
        if handler.unary_stream is not None:
            full = self._streams.full
            return self._refusal(method, handler, self._streams) if full else self._streamed_on(method, handler)
        if self._calls.full:
            return self._refusal(method, handler, self._calls)
        return handler

    def _streamed_on(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        cached = self._streamed.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        behaviour = handler.unary_stream

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            yield from behaviour(request, context)

        routed = grpc.unary_stream_rpc_method_handler(
            _on(self._streams.pool, stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._streamed[method] = (handler, routed)
        return routed

    def _exempt(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is None:
            return handler  # Watch streams already run on the health servicer's own pool
        cached = self._light.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        behaviour = handler.unary_unary

        def light(request: Any, context: grpc.ServicerContext) -> Any:
            return behaviour(request, context)

        routed = grpc.unary_unary_rpc_method_handler(
            _on(self._light_pool, light),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._light[method] = (handler, routed)
        return routed

    def _refusal(self, method: str, handler: grpc.RpcMethodHandler, lane: Lane) -> grpc.RpcMethodHandler:
        refusal = self._refusals.get(method)
        if refusal is None:
            refusal = refusal_handler(handler, _exhausted_status(lane.busy), self._light_pool)
            self._refusals[method] = refusal
        return refusal


def refusal_handler(
    handler: grpc.RpcMethodHandler, status: grpc.Status, pool: futures.ThreadPoolExecutor
) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind that answers ``status`` on ``pool``: a refused call takes no
    business thread, and its payload is never decoded (no request deserializer)."""

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort_with_status(status)

    def refuse_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        context.abort_with_status(status)
        yield  # pragma: no cover - abort raises; the yield only makes this a generator

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_on(pool, refuse))
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_on(pool, refuse_stream))
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_on(pool, refuse))
    return grpc.stream_stream_rpc_method_handler(_on(pool, refuse_stream))
