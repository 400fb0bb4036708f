"""The network file's catalogue cross-references: items' aliases read, checked at their paths, and
loaded into a store (both adapters) and into the requests load-network sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.aliases import AliasKind, SkuAlias
from server.api.network_load import load_into_store, plan_requests
from server.network_file import NetworkFileError, parse_network
from server.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "network"


def with_aliases(*per_item: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "minimal.json").read_text()))
    for item, aliases in zip(doc["items"], per_item, strict=False):
        item["aliases"] = aliases
    return doc


def problems(doc: Any) -> dict[str, str]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(doc, source="test")
    return dict(caught.value.problems)


GOOD = with_aliases(
    [{"kind": "CHANNEL", "alias": "AMZ-HOM1", "source": "amazon"}, {"kind": "BARCODE", "alias": "036000291452"}],
    [{"kind": "VENDOR", "alias": "V-ELC-1"}],
)


def test_aliases_are_read_and_normalized() -> None:
    network = parse_network(GOOD)
    assert network.sku_aliases == (
        SkuAlias(AliasKind.CHANNEL, "AMZ-HOM1", "HOM-00001", "amazon"),
        SkuAlias(AliasKind.BARCODE, "00036000291452", "HOM-00001"),
        SkuAlias(AliasKind.VENDOR, "V-ELC-1", "ELC-00001"),
    )
    plan = plan_requests(network, chunk_size=2)
    assert [len(r.aliases) for r in plan.sku_aliases] == [2, 1] and all(r.remap for r in plan.sku_aliases)


def test_bad_aliases_are_refused_at_their_paths() -> None:
    found = problems(
        with_aliases(
            [
                {"kind": "BARCODE", "alias": "036000291453"},
                {"kind": "EAN", "alias": "X"},
                {"kind": "CHANNEL", "alias": "SHARED"},
                {"kind": "CHANNEL", "alias": "ELC-00001"},
                {"kind": "CHANNEL", "alias": "Y", "colour": "red"},
                "AMZ-1",
            ],
            [{"kind": "VENDOR", "alias": "SHARED"}, {"kind": "CHANNEL"}],
        )
    )
    assert set(found) == {
        "items[0].aliases[0].alias",
        "items[0].aliases[1].kind",
        "items[0].aliases[3].alias",
        "items[0].aliases[4].colour",
        "items[0].aliases[5]",
        "items[1].aliases[0].alias",
        "items[1].aliases[1].alias",
    }
    assert "check digit" in found["items[0].aliases[0].alias"]
    assert "already names 'HOM-00001'" in found["items[1].aliases[0].alias"]
    assert found["items[1].aliases[1].alias"] == "is required"


def test_a_file_with_aliases_loads_into_the_store(store: Store) -> None:
    load_into_store(store, parse_network(GOOD), "USD")
    assert store.resolve_alias_keys(["AMZ-HOM1", "00036000291452", "V-ELC-1"]) == {
        "AMZ-HOM1": "HOM-00001",
        "00036000291452": "HOM-00001",
        "V-ELC-1": "ELC-00001",
    }
    moved = with_aliases([], [{"kind": "CHANNEL", "alias": "AMZ-HOM1"}])
    load_into_store(store, parse_network(moved), "USD")  # the file is the truth: the alias moves
    assert store.resolve_alias_keys(["AMZ-HOM1"]) == {"AMZ-HOM1": "ELC-00001"}
