"""Reading the reference instances (tests/data/sourcing-optimal.jsonl) into engine types."""

from __future__ import annotations

from pathlib import Path

from benchmarks.instances import Instance, instance_from_json, read_jsonl

__all__ = ["DATA", "Instance", "instance_from_json", "load_instances"]

DATA = Path(__file__).resolve().parent.parent / "data" / "sourcing-optimal.jsonl"


def load_instances() -> list[Instance]:
    return [instance_from_json(doc) for doc in read_jsonl(DATA)]
