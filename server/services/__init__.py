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
from typing import Any

import grpc

from server.proto import PACKAGE
from server.services.deps import ServiceDeps
from server.services.network import NetworkService
from server.services.orders import OrderService
from server.services.rules import RulesService
from server.services.sourcing import SourcingService

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


def register_services(server: grpc.Server, deps: ServiceDeps) -> list[str]:
    """Add every service to ``server``; return their full names."""
    for spec in SERVICES:
        spec.add_to_server(spec.servicer(deps), server)
    return service_names()
