"""The generated stubs import under the pinned protobuf/grpcio runtime and match proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.api import proto

REPO = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO / "proto"


def test_every_generated_module_imports() -> None:
    modules = proto.generated_modules()
    names = {m.__name__.rsplit(".", 1)[-1] for m in modules}
    for source in (PROTO_ROOT / "oms" / "sourcing" / "v1").glob("*.proto"):
        assert {f"{source.stem}_pb2", f"{source.stem}_pb2_grpc"} <= names, f"no stubs for {source.name}: make proto"
    for module in modules:
        if module.__name__.endswith("_pb2"):
            assert module.DESCRIPTOR.package == proto.PACKAGE


def test_services_are_discoverable() -> None:
    services = {s.full_name for s in proto.service_descriptors()}
    assert "oms.sourcing.v1.NetworkService" in services


def test_stubs_are_up_to_date(tmp_path: Path) -> None:
    """Stubs compiled now from proto/ equal the ones on disk (no edited or stale stubs)."""
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={tmp_path}", *sources],
        check=True,
        cwd=REPO,
    )
    for fresh in tmp_path.rglob("*_pb2.py"):
        on_disk = proto.GENERATED_DIR / fresh.relative_to(tmp_path)
        assert on_disk.read_text() == fresh.read_text(), f"{on_disk} is stale: run make proto"
