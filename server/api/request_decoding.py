"""Requests decoded inside their handlers: bytes that do not decode are the caller's error.

gRPC decodes a request with the handler's ``request_deserializer`` before any interceptor's
wrapper runs, and answered bytes that do not parse with INTERNAL and an ERROR traceback in the
log: a caller's junk looked like a server bug. Every handler is registered through
:class:`DecodingRegistrar` instead, without a request deserializer, so gRPC hands it the bytes as
they came and it decodes them itself: inside the metrics and error interceptors, after the token
check and the limiter (neither reads the payload of a call it refuses). Undecodable bytes are
INVALID_ARGUMENT with a google.rpc.BadRequest, counted under their method, and one WARNING line.

At registration rather than as one more interceptor: gRPC runs every interceptor on every call
(about 2 µs each in its pipeline); this adds one function call to a call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import grpc

from engine.errors import FieldViolation, InvalidInputError
from server.api.status import to_grpc_status

_log = logging.getLogger(__name__)

_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)
# What gRPC reads off a behaviour: its own thread pool (health Watch's), and whether it answers
# through a callback instead of returning.
_BEHAVIOUR_ATTRIBUTES = ("experimental_thread_pool", "experimental_non_blocking")


def _decoder(deserializer: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    """``deserializer`` (a generated message's FromString), its failure made the caller's."""
    descriptor = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    what = f"a valid {descriptor.full_name}" if descriptor is not None else "a valid request message"

    def decode(payload: bytes) -> Any:
        try:
            return deserializer(payload)
        except Exception as error:  # whatever the parser raises, these bytes are what it cannot read
            _log.warning(
                "undecodable request", extra={"method": method, "bytes": len(payload), "error": str(error)[:200]}
            )
            raise InvalidInputError(FieldViolation("", f"not {what} in protobuf wire format")) from None

    return decode


def decoding_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """``handler`` taking its request as bytes and decoding them itself."""
    if handler.request_deserializer is None:
        return handler
    decode = _decoder(handler.request_deserializer, method)
    attribute, factory = next(kind for kind in _KINDS if getattr(handler, kind[0]) is not None)
    behaviour = getattr(handler, attribute)
    decoded: Callable[..., Any]
    if getattr(behaviour, "experimental_non_blocking", False):
        # Health Watch answers through a callback, outside the error interceptor: mapped here.
        def non_blocking(payload: bytes, context: grpc.ServicerContext, send: Callable[[Any], None]) -> Any:
            try:
                request = decode(payload)
            except InvalidInputError as error:
                context.abort_with_status(to_grpc_status(error, method))
            return behaviour(request, context, send)

        decoded = non_blocking
    elif attribute.startswith("unary_"):

        def unary(payload: bytes, context: grpc.ServicerContext) -> Any:
            return behaviour(decode(payload), context)

        decoded = unary
    else:

        def streamed(payloads: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            return behaviour(map(decode, payloads), context)  # each message decoded as it is read

        decoded = streamed
    for name in _BEHAVIOUR_ATTRIBUTES:
        if hasattr(behaviour, name):
            setattr(decoded, name, getattr(behaviour, name))
    return factory(decoded, response_serializer=handler.response_serializer)  # no request deserializer


class _DecodingGenericHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler whose method handlers decode their requests (each built once)."""

    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._decoded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        cached = self._decoded.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, decoding_handler(handler, method))
            self._decoded[method] = cached
        return cached[1]


class DecodingRegistrar:
    """Stands in for a ``grpc.Server`` where services are added (the generated
    ``add_*Servicer_to_server``, health's, reflection's): every handler they register decodes its
    own requests. Anything else is the server's."""

    def __init__(self, server: grpc.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_DecodingGenericHandler(handler) for handler in handlers))

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]) -> None:
        decoded = {name: decoding_handler(handler, f"/{service}/{name}") for name, handler in handlers.items()}
        self._server.add_registered_method_handlers(service, decoded)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)
