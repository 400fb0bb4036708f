"""The one place that imports generated protobuf code.

protoc emits absolute imports (``from oms.sourcing.v1 import common_pb2``), so the generated
tree goes on ``sys.path`` here, once, and every other module imports the stubs from this one.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from google.protobuf import descriptor

GENERATED_DIR = Path(__file__).resolve().parent.parent / "generated"
PACKAGE = "oms.sourcing.v1"
_PACKAGE_DIR = GENERATED_DIR.joinpath(*PACKAGE.split("."))

if not (_PACKAGE_DIR / "common_pb2.py").exists():  # pragma: no cover - a setup mistake, said plainly
    raise ImportError(f"generated stubs are missing in {GENERATED_DIR}: run `make proto`")
if str(GENERATED_DIR) not in sys.path:
    sys.path.insert(0, str(GENERATED_DIR))

# Named here so that mypy sees their .pyi types; any other generated module is reachable too
# (``from server.api.proto import foo_pb2``) through __getattr__ below, untyped until listed here.
from oms.sourcing.v1 import (  # noqa: E402
    common_pb2,
    network_pb2,
    network_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    sourcing_pb2,
    sourcing_pb2_grpc,
)

__all__ = [
    "PACKAGE",
    "common_pb2",
    "generated_modules",
    "network_pb2",
    "network_pb2_grpc",
    "orders_pb2",
    "orders_pb2_grpc",
    "rules_pb2",
    "rules_pb2_grpc",
    "service_descriptors",
    "sourcing_pb2",
    "sourcing_pb2_grpc",
]


def __getattr__(name: str) -> ModuleType:
    """Generated modules not imported above, e.g. the stubs of a .proto file added later."""
    if name.endswith(("_pb2", "_pb2_grpc")) and (_PACKAGE_DIR / f"{name}.py").exists():
        return importlib.import_module(f"{PACKAGE}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def generated_modules() -> list[ModuleType]:
    """Every generated module of the package (``*_pb2`` and ``*_pb2_grpc``), imported.

    Found on disk rather than listed, so a new .proto file is picked up by `oms-sourcing call`
    and the stub test without editing this file.
    """
    names = sorted(p.stem for p in _PACKAGE_DIR.glob("*_pb2*.py"))
    return [importlib.import_module(f"{PACKAGE}.{name}") for name in names]


def service_descriptors() -> list[descriptor.ServiceDescriptor]:
    """Every service declared in the package, ordered by full name."""
    services: dict[str, descriptor.ServiceDescriptor] = {}
    for module in generated_modules():
        file_descriptor = getattr(module, "DESCRIPTOR", None)
        if isinstance(file_descriptor, descriptor.FileDescriptor):
            for service in file_descriptor.services_by_name.values():
                services[service.full_name] = service
    return [services[name] for name in sorted(services)]
