"""The network file's catalogue cross-references: items' aliases read, checked at their paths, and
loaded into a store (both adapters) and into the requests load-network sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.aliases import AliasKind, SkuAlias
from engine.catalog.units import ItemUnit
from server.api.network_load import load_into_store, plan_requests
from server.network_file import NetworkFileError, parse_network
from server.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "network"


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


def with_units() -> dict[str, Any]:
    doc = with_aliases()
    doc["items"][0]["units"] = {"case": 12, "INNER": 3}
    doc["inventory"][0] = {"node_id": "DC-01", "sku": "HOM-00001", "on_hand": 10, "unit": "CASE"}
    return doc


def test_units_are_read_and_stock_counted_in_them_is_in_eaches() -> None:
    network = parse_network(with_units())
    assert network.item_units == (ItemUnit("HOM-00001", "CASE", 12), ItemUnit("HOM-00001", "INNER", 3))
    assert network.inventory[0].quantity == 120  # 10 cases of 12
    assert network.inventory[1].quantity == 3  # no unit: eaches
    assert [len(r.units) for r in plan_requests(network).item_units] == [2]


def test_bad_units_are_refused_at_their_paths() -> None:
    doc = with_units()
    doc["items"][0]["units"] = {"CASE": 12, "case": 6, "INNER": 0, "EACH": 2, "BOX": "6", "A B": 2}
    doc["items"][1]["units"] = [12]
    doc["inventory"][1] = {"node_id": "ST-001", "sku": "HOM-00001", "on_hand": 1, "unit": "PALLET"}
    found = problems(doc)
    assert set(found) == {
        "items[0].units.case",
        "items[0].units.INNER",
        "items[0].units.EACH",
        "items[0].units.BOX",
        "items[0].units.A B",
        "items[1].units",
        "inventory[1].unit",
    }
    assert "PALLET" in found["inventory[1].unit"] and "CASE" in found["inventory[1].unit"]


def test_a_file_with_units_loads_into_the_store(store: Store) -> None:
    load_into_store(store, parse_network(with_units()), "USD")
    assert store.item_units(["HOM-00001"]) == {
        "HOM-00001": [ItemUnit("HOM-00001", "CASE", 12), ItemUnit("HOM-00001", "INNER", 3)]
    }
    (position,) = store.get_availability(["HOM-00001"], ["DC-01"])
    assert position.on_hand == 120
