"""Every gRPC service the server offers, registered in ONE place: ``SERVICES``.

To add a service, import its servicer class and add ``service(ThatService)`` to ``SERVICES``.
The class subclasses the generated ``<Name>Servicer`` and takes a :class:`ServiceDeps`; its
full name and ``add_<Name>Servicer_to_server`` are found from that base class. Health statuses,
reflection and metrics pick the service up from here; `oms-sourcing call` from the stubs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc

from server.api.proto import PACKAGE
from server.api.services.deps import ServiceDeps
from server.api.services.network import NetworkService
from server.api.services.orders import OrderService
from server.api.services.rules import RulesService
from server.api.services.sourcing import SourcingService

__all__ = ["SERVICES", "ServiceDeps", "ServiceSpec", "register_services", "service", "service_names"]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    full_name: str  # e.g. "oms.sourcing.v1.NetworkService": what health and reflection report
    add_to_server: Callable[[Any, grpc.Server], None]
    servicer: Callable[[ServiceDeps], Any]


def service(servicer: type) -> ServiceSpec:
    """The registration of a servicer class, derived from the generated base class it extends."""
    base = next(
        (b for b in servicer.__mro__ if b.__module__.startswith(PACKAGE) and b.__name__.endswith("Servicer")), None
    )
    if base is None:
        raise TypeError(f"{servicer.__name__} does not extend a generated {PACKAGE} *Servicer class")
    name = base.__name__.removesuffix("Servicer")
    grpc_module = sys.modules[base.__module__]  # ..._pb2_grpc
    messages = sys.modules[base.__module__.removesuffix("_grpc")]  # ..._pb2, imported by the former
    return ServiceSpec(
        full_name=messages.DESCRIPTOR.services_by_name[name].full_name,
        add_to_server=getattr(grpc_module, f"add_{base.__name__}_to_server"),
        servicer=servicer,
    )


SERVICES: tuple[ServiceSpec, ...] = (
    service(NetworkService),
    service(SourcingService),
    service(OrderService),
    service(RulesService),
)


def service_names() -> list[str]:
    return [spec.full_name for spec in SERVICES]


def register_services(server: grpc.Server, deps: ServiceDeps, servicers: dict[str, Any] | None = None) -> list[str]:
    """Add every service to ``server``; return their full names. ``servicers``, when given, gets
    each servicer by full name (what handles messages from a broker calls the same handlers)."""
    answers = _DeterministicAnswers(server)
    for spec in SERVICES:
        servicer = spec.servicer(deps)
        spec.add_to_server(servicer, answers)
        if servicers is not None:
            servicers[spec.full_name] = servicer
    return service_names()


class _DeterministicAnswers:
    """The server as the generated ``add_*_to_server`` functions see it: every method handler
    they register goes on with a response serializer that writes map entries in key order.

    A replayed answer must be the first one byte for byte, in any process: an order's events
    carry their payload as a google.protobuf.Struct (a map), and the default serialization
    writes map entries in hash-table order, which differs between processes.
    """

    def __init__(self, server: grpc.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_DeterministicGeneric(h) for h in handlers))

    def add_registered_method_handlers(self, service_name: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        deterministic = {name: _deterministic(handler) for name, handler in handlers.items()}
        self._server.add_registered_method_handlers(service_name, deterministic)  # type: ignore[attr-defined]


class _DeterministicGeneric(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(handler_call_details)
        return None if handler is None else _deterministic(handler)


def _serialize_deterministically(message: Any) -> bytes:
    data: bytes = message.SerializeToString(deterministic=True)
    return data


def _deterministic(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    if handler.response_serializer is None:
        return handler
    replaced: grpc.RpcMethodHandler = cast(Any, handler)._replace(response_serializer=_serialize_deterministically)
    return replaced
