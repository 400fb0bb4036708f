from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.availability import Availability
from engine.model import InventoryPosition
from engine.network import NetworkSnapshot
from engine.rules.loader import load_rule_set
from engine.rules.model import RuleSet
from server.network_file import NetworkFile, parse_network

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def sample() -> NetworkFile:
    return parse_network(json.loads((REPO / "data" / "sample-network.json").read_text()))


@pytest.fixture(scope="session")
def snapshot(sample: NetworkFile) -> NetworkSnapshot:
    return NetworkSnapshot(sample.nodes)


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    path = REPO / "rules" / "default.yaml"
    return load_rule_set([(str(path.relative_to(REPO)), path.read_text())])


def sample_availability(sample: NetworkFile, snapshot: NetworkSnapshot, skus: list[str]) -> Availability:
    positions = [InventoryPosition(u.node_id, u.sku, u.quantity) for u in sample.inventory if u.sku in set(skus)]
    return Availability.from_positions(snapshot, skus, positions)


def rules_from(text: str, name: str = "test.yaml") -> RuleSet:
    return load_rule_set([(name, text)])
