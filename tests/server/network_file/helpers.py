"""What the network file tests share: the fixtures' folder and the sample, a fresh minimal
document to break, and the problems a document is refused with."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from server.network_file import NetworkFileError, parse_network

ROOT = Path(__file__).resolve().parents[3]


SAMPLE = ROOT / "data" / "sample-network.json"


FIXTURES = ROOT / "tests" / "data" / "network"


def minimal() -> dict[str, Any]:
    """A fresh copy of the small valid fixture, for tests to break one thing in."""
    doc: dict[str, Any] = json.loads((FIXTURES / "minimal.json").read_text())
    return copy.deepcopy(doc)


def problems(doc: Any) -> list[tuple[str, str]]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(doc, source="test")
    return caught.value.problems
