"""Nodes, items and stock counts in a network file (server/network_file/nodes.py), each field
refused at its exact path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.network_file.helpers import minimal, problems


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("id", "", "nodes[0].id", "is required"),
        ("id", 7, "nodes[0].id", "must be a string, not number"),
        ("lat", None, "nodes[0].lat", "must be a number, not null"),
        ("lat", True, "nodes[0].lat", "must be a number, not boolean"),
        ("pick_pack_cost", "4,10", "nodes[0].pick_pack_cost", "must be a decimal number such as \"4.25\", not '4,10'"),
        ("pick_pack_cost", "-1.5", "nodes[0].pick_pack_cost", "must be between 0 and 1000000"),
        ("pick_pack_cost", [1], "nodes[0].pick_pack_cost", "must be a number or a decimal string, not array"),
        ("max_shipments", 12.5, "nodes[0].max_shipments", "must be a whole number"),
        ("max_shipments", "80", "nodes[0].max_shipments", "must be a whole number, not string"),
        ("max_units", -1, "nodes[0].max_units", "must not be negative"),
        ("can_ship", "yes", "nodes[0].can_ship", "must be true or false, not string"),
        ("region", "us-tn", "nodes[0].region", "must be an ISO 3166 code such as 'US-TX' or 'DE', not 'us-tn'"),
        ("tags", ["dc", 3], "nodes[0].tags[1]", "must be a string, not number"),
        ("can_pick_up", True, "nodes[0].can_pick_up", "is not a field of this format"),
    ],
)
def test_node_fields_are_checked(field: str, value: Any, path: str, message: str) -> None:
    doc = minimal()
    doc["nodes"][0][field] = value

    assert problems(doc) == [(path, message)]


def test_a_required_node_field_left_out_is_named() -> None:
    doc = minimal()
    del doc["nodes"][0]["unit_handling_cost"]

    assert problems(doc) == [("nodes[0].unit_handling_cost", "is required")]


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("unit_weight_lb", "2.5", "items[0].unit_weight_lb", "must be a number, not string"),
        ("length_in", -3, "items[0].length_in", "must be between 0 and 10000"),
        ("hazmat", 0, "items[0].hazmat", "must be true or false, not number"),
        ("attributes", {"color": 3}, "items[0].attributes.color", "must be a string, not number"),
        ("attributes", ["home"], "items[0].attributes", "must be an object, not array"),
        # What UpsertItems refuses, the file refuses too (engine.model.attribute_problems): load-network
        # used to write the nodes, then fail on the items.
        (
            "attributes",
            {"care": "a\x00b"},
            "items[0].attributes['care']",
            "must not contain control characters (U+0000 at position 1)",
        ),
        ("attributes", {"care": "x" * 600}, "items[0].attributes['care']", "is longer than 512 characters"),
        ("attributes", {"": "x"}, "items[0].attributes['']", "keys must be 1-128 characters"),
    ],
)
def test_item_fields_are_checked(field: str, value: Any, path: str, message: str) -> None:
    doc = minimal()
    doc["items"][0][field] = value

    assert problems(doc) == [(path, message)]


def test_a_duplicate_sku_is_refused() -> None:
    doc = minimal()
    doc["items"][1]["sku"] = "HOM-00001"
    doc["inventory"].pop()  # it named the SKU that is now gone

    assert problems(doc) == [("items[1].sku", "duplicates 'HOM-00001' (first at items[0])")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.5, "must be a whole number"),
        (True, "must be a whole number, not boolean"),
        ("3", "must be a whole number, not string"),
        (2_000_000_000, "must be at most 1000000000"),
    ],
)
def test_on_hand_must_be_a_whole_count(value: Any, message: str) -> None:
    doc = minimal()
    doc["inventory"][0]["on_hand"] = value

    assert problems(doc) == [("inventory[0].on_hand", message)]


def test_two_counts_for_one_position_are_refused() -> None:
    doc = minimal()
    doc["inventory"].append({"node_id": "DC-01", "sku": "HOM-00001", "on_hand": 7})

    assert problems(doc) == [("inventory[3]", "repeats the position ('DC-01', 'HOM-00001') of inventory[0]")]


def test_an_inventory_row_missing_its_count_is_refused() -> None:
    doc = minimal()
    del doc["inventory"][1]["on_hand"]

    assert problems(doc) == [("inventory[1].on_hand", "is required")]
