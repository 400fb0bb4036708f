"""The network file as a whole (server/network_file/document.py and fields.py): the committed sample
loads, defaults fill in, every problem is reported at once at its exact path, hostile bytes
and JSON are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.model import NodeType
from server.network_file import FORMAT, NetworkFileError, parse_network, read_network_file
from server.store.base import UpdateKind
from tests.server.network_file.helpers import FIXTURES, SAMPLE, minimal, problems


def test_the_committed_sample_loads_with_the_promised_shape() -> None:
    network = read_network_file(SAMPLE)

    types = [node.type for node in network.nodes]
    assert 54 <= len(network.nodes) <= 60
    assert types.count(NodeType.DC) >= 4
    assert types.count(NodeType.THREE_PL) >= 1 and types.count(NodeType.DROP_SHIP) >= 1
    assert 280 <= len(network.items) <= 320
    assert network.currency == "USD"
    assert network.as_of == datetime(2026, 11, 24, tzinfo=UTC)
    assert any(item.hazmat for item in network.items)


def test_the_sample_inventory_names_only_declared_nodes_and_skus_once_each() -> None:
    network = read_network_file(SAMPLE)
    node_ids = {node.id for node in network.nodes}
    skus = {item.sku for item in network.items}

    positions = [(u.node_id, u.sku) for u in network.inventory]
    assert network.inventory
    assert all(node_id in node_ids and sku in skus for node_id, sku in positions)
    assert len(positions) == len(set(positions))
    assert all(u.kind is UpdateKind.ABSOLUTE and u.as_of == network.as_of for u in network.inventory)
    assert all(u.quantity >= 0 for u in network.inventory)


def test_the_sample_stores_take_pickups_and_carry_regions() -> None:
    network = read_network_file(SAMPLE)
    stores = [node for node in network.nodes if node.type is NodeType.STORE]

    assert stores and all(store.can_pickup for store in stores)
    assert all(node.region.startswith("US-") for node in network.nodes)
    assert all(store.max_shipments is not None and 40 <= store.max_shipments <= 120 for store in stores)


def test_the_minimal_fixture_loads_and_fills_defaults() -> None:
    network = read_network_file(FIXTURES / "minimal.json")
    dc, store = network.nodes

    assert (dc.can_ship, dc.can_pickup, dc.is_open, dc.max_shipments, dc.max_units) == (True, False, True, None, None)
    assert store.can_pickup and store.max_shipments == 80
    assert dc.unit_handling_cost == 0.25 and store.pick_pack_cost == 4.10  # decimal strings are money too
    assert dc.location.lat == 35.14953 and dc.location.lon == -90.04898
    assert store.tags == frozenset({"bopis", "ship-from-store"})
    assert network.items[1].length_in == 0.0 and network.items[1].tags == frozenset()
    assert network.items[0].attributes == {"category": "home"}
    assert [(u.node_id, u.sku, u.quantity) for u in network.inventory] == [
        ("DC-01", "HOM-00001", 120),
        ("ST-001", "HOM-00001", 3),
        ("DC-01", "ELC-00001", 0),
    ]


def test_as_of_with_an_offset_is_converted_to_utc() -> None:
    doc = minimal()
    doc["as_of"] = "2026-11-23T19:00:00-05:00"

    assert parse_network(doc).as_of == datetime(2026, 11, 24, tzinfo=UTC)


def test_null_capacity_means_unlimited() -> None:
    doc = minimal()
    doc["nodes"][1]["max_shipments"] = None

    assert parse_network(doc).nodes[1].max_shipments is None


def test_items_and_inventory_may_be_left_out() -> None:
    doc = minimal()
    del doc["items"], doc["inventory"]

    network = parse_network(doc)
    assert network.items == () and network.inventory == ()


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("bad-lat.json", [("nodes[1].lat", "must be between -90 and 90")]),
        ("duplicate-node.json", [("nodes[1].id", "duplicates 'DC-01' (first at nodes[0])")]),
        ("unknown-node-in-inventory.json", [("inventory[1].node_id", "names unknown node 'ST-999'")]),
        ("negative-on-hand.json", [("inventory[0].on_hand", "must not be negative")]),
        ("wrong-type.json", [("nodes[0].lon", "must be a number, not string")]),
        ("malformed.json", [("$", "malformed JSON at line 4, column 3: Expecting ',' delimiter")]),
        (
            "rate-tables-without-standard.json",
            [
                (
                    "rate_tables",
                    "must include a 'STANDARD' table: orders without a service level use it, "
                    "and the section replaces the default tables",
                )
            ],
        ),
        (
            "rate-limits-not-increasing.json",
            [("rate_tables[0].zone_limits_miles[2]", "must be greater than the limit before it (400)")],
        ),
        (
            "rate-count-not-per-zone.json",
            [("rate_tables[1].per_lb", "needs 2 entries, one per zone (one more than zone_limits_miles), not 1")],
        ),
        ("negative-rate.json", [("rate_tables[0].base[1]", "must be between 0 and 1000000")]),
        (
            "duplicate-service-level.json",
            [("rate_tables[2].service_level", "duplicates 'TWO_DAY' (first at rate_tables[1])")],
        ),
        (
            "bad-service-level.json",
            [
                (
                    "rate_tables[1].service_level",
                    "must be capital letters, digits, '_' or '-' (such as 'TWO_DAY'), not 'TWO DAY'",
                )
            ],
        ),
        (
            "too-many-zones.json",
            [("rate_tables[1].zone_limits_miles", "has 32 limits (33 zones); at most 32 zones are allowed")],
        ),
    ],
)
def test_a_broken_fixture_is_refused_at_its_exact_path(fixture: str, expected: list[tuple[str, str]]) -> None:
    path = FIXTURES / fixture
    with pytest.raises(NetworkFileError) as caught:
        read_network_file(path)

    assert caught.value.problems == expected
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: 1 problem(s): {expected[0][0]}: ")


def test_every_problem_is_reported_not_just_the_first() -> None:
    doc = minimal()
    doc["nodes"][0]["lat"] = "35.1"  # wrong type ...
    doc["nodes"][0]["pick_pack_cost"] = -1  # ... does not hide the engine's check of another field
    doc["nodes"][1]["type"] = "WAREHOUSE"
    doc["items"][1]["unit_weight_lb"] = 5000
    doc["inventory"][2]["sku"] = "NOPE-1"

    assert problems(doc) == [
        ("nodes[0].lat", "must be a number, not string"),
        ("nodes[0].pick_pack_cost", "must be between 0 and 1000000"),
        ("nodes[1].type", "must be one of DC, STORE, 3PL, DROP_SHIP, not 'WAREHOUSE'"),
        ("items[1].unit_weight_lb", "must be between 0 and 2000"),
        ("inventory[2].sku", "names unknown sku 'NOPE-1'"),
    ]


def test_a_bad_node_does_not_also_flag_its_stock() -> None:
    doc = minimal()
    doc["nodes"][1]["lon"] = 200.0

    assert problems(doc) == [("nodes[1].lon", "must be between -180 and 180")]


def test_the_error_message_shows_the_first_twenty_and_counts_the_rest() -> None:
    doc = minimal()
    doc["inventory"] = [{"node_id": f"X-{i}", "sku": "HOM-00001", "on_hand": 1} for i in range(25)]

    with pytest.raises(NetworkFileError) as caught:
        parse_network(doc, source="big.json")
    assert len(caught.value.problems) == 25
    assert str(caught.value).startswith("big.json: 25 problem(s): inventory[0].node_id: names unknown node 'X-0'")
    assert str(caught.value).endswith("; and 5 more")


def test_an_unknown_format_is_refused_without_reading_further() -> None:
    doc = minimal()
    doc["format"] = "oms-sourcing/network@2"
    doc["nodes"] = "whatever version 2 holds"

    assert problems(doc) == [("format", f"is 'oms-sourcing/network@2'; this reader understands only {FORMAT!r}")]


def test_a_missing_format_is_refused() -> None:
    doc = minimal()
    del doc["format"]

    assert problems(doc) == [("format", "is required")]


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert problems([1, 2]) == [("$", "must be a JSON object, not array")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("currency", "usd", "must be an ISO 4217 code such as 'USD', not 'usd'"),
        ("currency", 840, "must be a string, not number"),
        ("as_of", "2026-11-24T00:00:00", "must include a timezone, e.g. '2026-11-24T00:00:00Z'"),
        ("as_of", "yesterday", "must be an ISO 8601 time such as '2026-11-24T00:00:00Z', not 'yesterday'"),
        ("nodes", {"id": "DC-01"}, "must be an array, not object"),
        ("inventory", None, "must be an array, not null"),
        ("comment", "hello", "is not a field of this format"),
    ],
)
def test_top_level_fields_are_checked(field: str, value: Any, message: str) -> None:
    doc = minimal()
    doc[field] = value

    assert problems(doc) == [(field, message)]


def test_nodes_are_required() -> None:
    doc = minimal()
    del doc["nodes"], doc["inventory"]

    assert problems(doc) == [("nodes", "is required")]


def test_an_array_element_that_is_not_an_object_is_refused() -> None:
    doc = minimal()
    doc["items"].append("SKU-1")

    assert problems(doc) == [("items[2]", "must be an object, not string")]


def test_a_key_given_twice_in_one_object_is_refused(tmp_path: Path) -> None:
    text = (FIXTURES / "minimal.json").read_text().replace('"on_hand": 120}', '"on_hand": 120, "on_hand": 5}')
    path = tmp_path / "twice.json"
    path.write_text(text)

    with pytest.raises(NetworkFileError) as caught:
        read_network_file(path)
    assert caught.value.problems == [("inventory[0].on_hand", "appears more than once in this object")]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes((FIXTURES / "minimal.json").read_bytes().replace(b"Memphis", b"M\xe9mphis"))

    with pytest.raises(NetworkFileError) as caught:
        read_network_file(str(path))
    [(where, message)] = caught.value.problems
    assert where == "$" and message.startswith("is not UTF-8 text (bad byte at offset ")


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "minimal.json").read_bytes())

    assert len(read_network_file(path).nodes) == 2


def test_a_missing_file_raises_the_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_network_file(tmp_path / "absent.json")


def _read_problem(tmp_path: Path, text: str) -> tuple[str, str]:
    path = tmp_path / "hostile.json"
    path.write_text(text)
    with pytest.raises(NetworkFileError) as caught:
        read_network_file(path)
    [problem] = caught.value.problems
    return problem


def _minimal_with(old: str, new: str) -> str:
    text = (FIXTURES / "minimal.json").read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # json.loads raised RecursionError (a traceback from the CLI) at about 1,000 levels
        ("[" * 100_000 + "]" * 100_000, "nests arrays and objects too deep (the format needs 5 levels)"),
        ('{"nodes": ' + "[" * 5_000 + "]" * 5_000 + "}", "nests arrays and objects too deep"),
        # more digits than Python converts: ValueError escaped
        (_minimal_with('"lat": 35.1', '"lat": 1' + "0" * 5000), "holds a value JSON cannot carry: Exceeds the limit"),
        (_minimal_with('"lat": 35.1', '"lat": NaN'), "holds a value JSON cannot carry: NaN is not a JSON number"),
        (_minimal_with('"lat": 35.1', '"lat": -Infinity'), "-Infinity is not a JSON number"),
        # escapes of half a UTF-16 pair loaded, and failed later in the store or in protobuf
        (_minimal_with('"name": "', '"name": "\\ud800'), "line 6: \\ud800 is half of a UTF-16 pair"),
        (_minimal_with('"name": "', '"name": "\\udfff\\ud83d\\ude00'), "\\udfff is half of a UTF-16 pair"),
        (_minimal_with('"name": "', '"name": "\\ud83d\\ud83d\\ude00'), "\\ud83d is half of a UTF-16 pair"),
    ],
)
def test_hostile_json_is_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    where, problem = _read_problem(tmp_path, text)
    assert where == "$" and message in problem, problem


def test_an_integer_past_float_range_is_not_finite(tmp_path: Path) -> None:
    # 400 digits: Python reads the integer, float() of it raised OverflowError
    assert _read_problem(tmp_path, _minimal_with('"lat": 35.1', '"lat": 1' + "0" * 400)) == (
        "nodes[0].lat",
        "must be a finite number",
    )


def test_escapes_that_make_characters_load(tmp_path: Path) -> None:
    path = tmp_path / "escapes.json"
    path.write_text(_minimal_with('"name": "', '"name": "\\ud83d\\ude00 \\\\ud800 \\u00e9 '))
    name = read_network_file(path).nodes[0].name
    assert name.startswith("\U0001f600 \\ud800 \u00e9 ")  # a pair, an escaped backslash, a plain escape


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import limits

    text = (FIXTURES / "minimal.json").read_text()
    monkeypatch.setattr(limits, "MAX_NETWORK_FILE_BYTES", len(text.encode()) - 1)
    where, problem = _read_problem(tmp_path, text)
    assert where == "$" and problem.startswith(f"is larger than the limit of {len(text.encode()) - 1:,} bytes")
