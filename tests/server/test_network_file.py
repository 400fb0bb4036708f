"""The network file loader: the committed sample loads, and every broken file is refused at its exact path."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.model import NodeType
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_CARRIER_SERVICES,
    MONDAY_TO_FRIDAY,
    MONDAY_TO_SATURDAY,
    Cutoff,
    NodeSchedule,
    Weekday,
)
from engine.rates import DEFAULT_RATE_TABLES, RateTable
from server.network_file import FORMAT, NetworkFileError, parse_network, read_network_file
from server.store.base import UpdateKind

ROOT = Path(__file__).resolve().parents[2]
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


# --- the committed sample ----------------------------------------------------------------------------------


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


# --- a valid file, with defaults ----------------------------------------------------------------------------


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


# --- the named broken fixtures -----------------------------------------------------------------------------


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


# --- every problem at once ---------------------------------------------------------------------------------


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


# --- the document and its top-level fields ------------------------------------------------------------------


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


# --- node, item and inventory fields ------------------------------------------------------------------------


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


# --- reading files ------------------------------------------------------------------------------------------


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


# --- rate tables --------------------------------------------------------------------------------------------


def test_rate_tables_load_upper_cased_with_decimal_money() -> None:
    network = read_network_file(FIXTURES / "rate-tables.json")

    assert network.rate_tables == (
        RateTable("STANDARD", (100.0, 400.0, 1200.0), (4.00, 5.25, 7.50, 10.00), (0.25, 0.40, 0.75, 1.10)),
        RateTable("TWO_DAY", (250.0,), (12.00, 16.50), (0.90, 1.35)),
    )
    # The section replaces the defaults: no sample EXPRESS rates left to price an order with.
    assert sorted(network.rate_tables_in_force) == ["STANDARD", "TWO_DAY"]


def test_without_a_rate_tables_section_the_defaults_are_in_force() -> None:
    network = read_network_file(FIXTURES / "minimal.json")

    assert network.rate_tables == ()
    assert network.rate_tables_in_force == dict(DEFAULT_RATE_TABLES)


def test_a_single_zone_table_has_no_limits() -> None:
    doc = minimal()
    doc["rate_tables"] = [{"service_level": "STANDARD", "zone_limits_miles": [], "base": [7], "per_lb": ["0.5"]}]

    (table,) = parse_network(doc).rate_tables
    assert (table.zone_limits_miles, table.base, table.per_lb) == ((), (7.0,), (0.5,))


def _standard(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "service_level": "STANDARD",
        "zone_limits_miles": [100, 400],
        "base": ["4.00", "5.25", "7.50"],
        "per_lb": [0.25, 0.40, 0.75],
    }
    table.update(overrides)
    return table


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("service_level", 7, "rate_tables[1].service_level", "must be a string, not number"),
        ("service_level", "", "rate_tables[1].service_level", "is required"),
        ("service_level", "S" * 129, "rate_tables[1].service_level", "is longer than 128 characters"),
        ("zone_limits_miles", "100,400", "rate_tables[1].zone_limits_miles", "must be an array, not string"),
        ("zone_limits_miles", [100, "400"], "rate_tables[1].zone_limits_miles[1]", "must be a number, not string"),
        (
            "zone_limits_miles",
            [0, 400],
            "rate_tables[1].zone_limits_miles[0]",
            "must be greater than 0 and at most 12500",
        ),
        (
            "zone_limits_miles",
            [100, 20000],
            "rate_tables[1].zone_limits_miles[1]",
            "must be greater than 0 and at most 12500",
        ),
        (
            "zone_limits_miles",
            [400, 100],
            "rate_tables[1].zone_limits_miles[1]",
            "must be greater than the limit before it (400)",
        ),
        (
            "base",
            ["4.00", "5,25", "7.50"],
            "rate_tables[1].base[1]",
            "must be a decimal number such as \"4.25\", not '5,25'",
        ),
        ("base", ["4.00", True, "7.50"], "rate_tables[1].base[1]", "must be a number or a decimal string, not boolean"),
        ("base", None, "rate_tables[1].base", "must be an array, not null"),
        (
            "base",
            [4, 5],
            "rate_tables[1].base",
            "needs 3 entries, one per zone (one more than zone_limits_miles), not 2",
        ),
        ("per_lb", [0.25, 0.40, 2_000_000], "rate_tables[1].per_lb[2]", "must be between 0 and 1000000"),
        ("per_lb", [0.25, -0.4, 0.75], "rate_tables[1].per_lb[1]", "must be between 0 and 1000000"),
        ("zones", [], "rate_tables[1].zones", "is not a field of this format"),
    ],
)
def test_rate_table_fields_are_checked(field: str, value: Any, path: str, message: str) -> None:
    doc = minimal()
    doc["rate_tables"] = [_standard(), _standard(**{"service_level": "TWO_DAY", field: value})]

    assert problems(doc) == [(path, message)]


def test_a_required_rate_table_field_left_out_is_named() -> None:
    doc = minimal()
    table = _standard()
    del table["per_lb"]
    doc["rate_tables"] = [table]

    assert problems(doc) == [("rate_tables[0].per_lb", "is required")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [],
            "must include a 'STANDARD' table: orders without a service level use it, "
            "and the section replaces the default tables",
        ),
        ({"STANDARD": {}}, "must be an array, not object"),
        (None, "must be an array, not null"),
    ],
)
def test_the_rate_tables_section_itself_is_checked(value: Any, message: str) -> None:
    doc = minimal()
    doc["rate_tables"] = value

    assert problems(doc) == [("rate_tables", message)]


def test_at_most_32_rate_tables() -> None:
    doc = minimal()
    doc["rate_tables"] = [_standard()] + [_standard(service_level=f"LEVEL-{i}") for i in range(32)]

    assert problems(doc) == [("rate_tables", "has 33 tables; at most 32 are allowed")]


def test_mutated_network_files_raise_only_network_file_errors() -> None:
    import random

    from server.network_file import parse_network_json

    text = (FIXTURES / "minimal.json").read_text()
    rng = random.Random(5)
    junk = [*'{}[],:"\\-.eE0', "\\ud800", "\\udc00", "1" * 400, "1e400", "NaN", "null", "true", '"x"', "[" * 2000]
    refused = 0
    for _ in range(1000):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[i : i + rng.randint(1, 8)]
            else:
                chars.insert(i, rng.choice(junk))
        try:
            parse_network_json("".join(chars), "mutant.json")
        except NetworkFileError as e:
            assert e.problems and e.source == "mutant.json"
            refused += 1
    assert refused > 500


# --- delivery promise data: node schedules, holiday calendars, carrier services (docs/promise.md) -------------


def promise_doc() -> dict[str, Any]:
    """A fresh copy of the small valid file with every promise section, for tests to break one thing in."""
    doc: dict[str, Any] = json.loads((FIXTURES / "promise.json").read_text())
    return doc


def test_the_promise_fixture_loads_into_engine_schedules_and_services() -> None:
    network = read_network_file(FIXTURES / "promise.json")
    dc, store = network.node_schedules
    ground, next_day = network.carrier_services

    assert dc == NodeSchedule(
        "DC-01", "America/Chicago", MONDAY_TO_SATURDAY, 360, 1380,
        frozenset({date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)}), 0,
        (Cutoff("GROUND", 1080), Cutoff("NEXT_DAY", 900)), 0,
    )  # fmt: skip
    assert store == NodeSchedule(
        "ST-001", "America/Chicago", ALL_WEEK, 600, 1260, frozenset({date(2026, 11, 26), date(2026, 12, 25)}), 0,
        (Cutoff("GROUND", 900),), 120,
    )  # fmt: skip
    assert [(z.zone, z.up_to_miles, z.transit_days, z.base, z.per_lb) for z in ground.zones] == [
        ("1", 150.0, 1, 5.0, 0.3), ("2", 600.0, 2, 6.0, 0.45), ("3", None, 4, 8.5, 0.95), ("AK", None, 6, 22.5, 2.1),
    ]  # fmt: skip
    assert (ground.carrier, ground.service_level, ground.pickup_days, ground.dim_divisor) == (
        "Northstar Parcel", "STANDARD", MONDAY_TO_FRIDAY, None,
    )  # fmt: skip
    assert ground.holidays == dc.holidays
    assert Weekday.SAT in next_day.delivery_days and next_day.dim_divisor == 139.0
    assert (next_day.residential_surcharge, next_day.non_contiguous_surcharge, next_day.remote_area_surcharge) == (
        5.25, 45.0, 3.8,
    )  # fmt: skip
    assert next_day.remote_area_zip3 == frozenset({"588", "893"})
    assert list(network.carrier_services_in_force) == ["GROUND", "NEXT_DAY"]
    assert network.rate_tables == ()  # the store's rate tables are not touched by carrier services (yet)


def test_the_committed_sample_has_a_schedule_per_node_and_three_carrier_services() -> None:
    network = read_network_file(SAMPLE)
    by_id = {s.node_id: s for s in network.node_schedules}
    services = network.carrier_services_in_force

    assert [s.node_id for s in network.node_schedules] == [n.id for n in network.nodes]
    assert {s.time_zone for s in network.node_schedules} >= {"America/New_York", "America/Chicago", "America/Denver",
                                                             "America/Los_Angeles", "America/Phoenix"}  # fmt: skip
    assert by_id["DC-01"].working_days == MONDAY_TO_SATURDAY
    assert all(
        by_id[n.id].opens == 600 and by_id[n.id].closes == 1260 for n in network.nodes if n.type is NodeType.STORE
    )
    assert list(services) == ["GROUND", "NEXT_DAY", "TWO_DAY"]
    assert {row.transit_days for row in services["GROUND"].zones if row.numbered} == {1, 2, 3, 4, 5}
    assert {row.zone for row in services["NEXT_DAY"].zones if not row.numbered} == {"AK", "HI"}
    # Orders of the levels that exist today keep their prices: the services' bands are the default tables.
    assert services["GROUND"].rate_table == DEFAULT_RATE_TABLES["STANDARD"]
    assert services["TWO_DAY"].rate_table == DEFAULT_RATE_TABLES["EXPRESS"]
    assert network.rate_tables == ()
    shipping = [n for n in network.nodes if n.can_ship]
    assert all(by_id[n.id].cutoffs for n in shipping) and not any(
        by_id[n.id].cutoffs for n in network.nodes if not n.can_ship
    )


def test_a_file_without_promise_data_gets_the_documented_defaults() -> None:
    network = parse_network(minimal())

    assert network.node_schedules == (NodeSchedule("DC-01"), NodeSchedule("ST-001"))
    assert network.carrier_services == ()
    assert network.carrier_services_in_force == dict(DEFAULT_CARRIER_SERVICES)
    with_tables = read_network_file(FIXTURES / "rate-tables.json")
    assert {s.id: s.rate_table for s in with_tables.carrier_services_in_force.values()} == {
        t.service_level: t for t in with_tables.rate_tables
    }


def test_service_names_match_in_any_case() -> None:
    doc = promise_doc()
    doc["carrier_services"][0]["id"] = "ground"
    doc["nodes"][1]["cutoffs"][0]["carrier_service"] = "Ground"

    network = parse_network(doc)
    assert network.carrier_services[0].id == "GROUND" and network.node_schedules[1].cutoffs == (Cutoff("GROUND", 900),)


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted path such as ``nodes.1.cutoffs.0.time`` (None deletes)."""
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is None:
        del target[key]
    else:
        target[key] = value


ZONES_OUT_OF_ORDER = [
    {"zone": 2, "up_to_miles": 600, "transit_days": 2, "base": "6.00", "per_lb": "0.45"},
    {"zone": 1, "up_to_miles": 150, "transit_days": 1, "base": "5.00", "per_lb": "0.30"},
    {"zone": 3, "transit_days": 4, "base": "8.50", "per_lb": "0.95"},
]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "nodes.1.time_zone",
            "America/Chicgo",
            [("nodes[1].time_zone", "must be an IANA time zone such as 'America/Chicago', not 'America/Chicgo'")],
        ),
        ("nodes.0.cutoffs.1.time", "24:00", [("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59")]),
        ("nodes.0.cutoffs.1.time", "25:30", [("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59")]),
        (
            "nodes.0.cutoffs.1.time",
            "3pm",
            [("nodes[0].cutoffs[1].time", "must be a time of day HH:MM such as '15:00', not '3pm'")],
        ),
        ("nodes.0.cutoffs.1.time", None, [("nodes[0].cutoffs[1].time", "is required")]),
        (
            "nodes.1.holidays.0",
            "2026-02-30",
            [("nodes[1].holidays[0]", "must be a date YYYY-MM-DD such as '2026-12-25', not '2026-02-30'")],
        ),
        (
            "holiday_calendars.0.dates.1",
            "25.12.2026",
            [("holiday_calendars[0].dates[1]", "must be a date YYYY-MM-DD such as '2026-12-25', not '25.12.2026'")],
        ),
        (
            "holiday_calendars.0.dates.1",
            "1999-12-25",
            [("holiday_calendars[0].dates[1]", "1999-12-25 is outside the years 2000-2100")],
        ),
        ("nodes.1.holidays.0", "2101-01-01", [("nodes[1].holidays", "2101-01-01 is outside the years 2000-2100")]),
        (
            "nodes.1.holiday_calendars",
            ["US-FED"],
            [("nodes[1].holiday_calendars[0]", "names unknown holiday calendar 'US-FED'; known: US-FEDERAL")],
        ),
        (
            "carrier_services.0.zones.2.zone",
            4,
            [("carrier_services[0].zones[2].zone", "leaves a gap: zone 3 is missing before zone 4")],
        ),
        (
            "carrier_services.0.zones",
            ZONES_OUT_OF_ORDER,
            [
                ("carrier_services[0].zones[0].zone", "leaves a gap: zone 1 is missing before zone 2"),
                (
                    "carrier_services[0].zones[1].zone",
                    "zone 1 is out of order: zones run 1, 2, 3, ... (expected zone 3)",
                ),
            ],
        ),
        (
            "carrier_services.0.zones.1.up_to_miles",
            100,
            [("carrier_services[0].zones[1].up_to_miles", "must be greater than the zone before's (150)")],
        ),
        (
            "carrier_services.0.zones.3.zone",
            "PR",
            [("carrier_services[0].zones[3].zone", "must be a zone number 1-32, 'AK' or 'HI', not 'PR'")],
        ),
        (
            "carrier_services.0.zones.0.transit_days",
            31,
            [("carrier_services[0].zones[0].transit_days", "must be between 0 and 30")],
        ),
        (
            "nodes.0.cutoffs.1",
            {"carrier_service": "GROUND", "time": "12:00"},
            [
                ("nodes[0].cutoffs[1].carrier_service", "duplicates 'GROUND' (first at cutoffs[0])"),
            ],
        ),
        (
            "nodes.0.cutoffs",
            [{"carrier_service": "GROUND", "time": "18:00"}],
            [("carrier_services[1].id", "no node offers it: no node's cutoffs name 'NEXT_DAY'")],
        ),
        (
            "nodes.1.cutoffs.0.carrier_service",
            "OVERNIGHT",
            [
                (
                    "nodes[1].cutoffs[0].carrier_service",
                    "names unknown carrier service 'OVERNIGHT'; known: GROUND, NEXT_DAY",
                )
            ],
        ),
        (
            "nodes.1.working_days",
            ["SAT", "SUN"],
            [
                (
                    "nodes[1].cutoffs[0].carrier_service",
                    "GROUND picks up on MON, TUE, WED, THU, FRI only, "
                    "none of them a working day of the node (SAT, SUN)",
                )
            ],
        ),
        (
            "nodes.0.working_days.2",
            "Wednesday",
            [("nodes[0].working_days[2]", "must be one of MON, TUE, WED, THU, FRI, SAT, SUN, not 'Wednesday'")],
        ),
        ("nodes.0.working_days", [], [("nodes[0].working_days", "must name at least one day of the week")]),
        ("nodes.1.closes", "09:00", [("nodes[1].closes", "must be later than opens (10:00)")]),
        ("nodes.1.processing_days", 45, [("nodes[1].processing_days", "must be between 0 and 30")]),
        ("nodes.1.cutoffs.0.tme", "15:00", [("nodes[1].cutoffs[0].tme", "is not a field of this format")]),
        (
            "carrier_services.0.service_level",
            "GROUND",
            [
                (
                    "carrier_services",
                    "must include a service of service_level 'STANDARD': orders without a service level use it, "
                    "and the section replaces the default services",
                )
            ],
        ),
        (
            "carrier_services.1.id",
            "GROUND",
            [("carrier_services[1].id", "duplicates 'GROUND' (first at carrier_services[0])")],
        ),
        (
            "carrier_services.1.remote_area_zip3",
            ["58"],
            [("carrier_services[1].remote_area_zip3", "entries must be three digits such as '995', not '58'")],
        ),
        (
            "carrier_services.1.dim_divisor",
            0,
            [("carrier_services[1].dim_divisor", "must be absent or between 1 and 100000")],
        ),
        (
            "rate_tables",
            [{"service_level": "STANDARD", "zone_limits_miles": [], "base": [5], "per_lb": [0.5]}],
            [
                (
                    "rate_tables",
                    "must be absent when carrier_services is present: carrier services carry their own rates",
                )
            ],
        ),
    ],
)
def test_bad_promise_data_is_refused_at_its_exact_path(path: str, value: Any, expected: list[tuple[str, str]]) -> None:
    doc = promise_doc()
    _set(doc, path, value)

    assert problems(doc) == expected


def test_cutoffs_name_the_default_services_when_the_file_has_none() -> None:
    doc = minimal()
    doc["nodes"][0]["cutoffs"] = [{"carrier_service": "standard", "time": "17:00"}]
    assert parse_network(doc).node_schedules[0].cutoffs == (Cutoff("STANDARD", 1020),)

    doc["nodes"][0]["cutoffs"] = [{"carrier_service": "GROUND", "time": "17:00"}]
    assert problems(doc) == [
        ("nodes[0].cutoffs[0].carrier_service", "names unknown carrier service 'GROUND'; known: EXPRESS, STANDARD")
    ]


def test_every_promise_problem_is_reported_at_once_and_the_file_loads_nothing() -> None:
    doc = promise_doc()
    doc["nodes"][1]["time_zone"] = "Chicago"
    doc["nodes"][0]["cutoffs"][1]["time"] = "24:00"
    doc["holiday_calendars"][0]["dates"][0] = "2026-11-31"
    doc["carrier_services"][0]["zones"][2]["zone"] = 5

    assert problems(doc) == [
        ("holiday_calendars[0].dates[0]", "must be a date YYYY-MM-DD such as '2026-12-25', not '2026-11-31'"),
        ("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59"),
        ("nodes[1].time_zone", "must be an IANA time zone such as 'America/Chicago', not 'Chicago'"),
        ("carrier_services[0].zones[2].zone", "leaves a gap: zone 3 is missing before zone 5"),
    ]


@pytest.mark.parametrize("field", ["processing_days", "pickup_ready_minutes", "time_zone", "opens", "cutoffs"])
def test_null_is_no_default_for_schedule_fields(field: str) -> None:
    doc = promise_doc()
    doc["nodes"][1][field] = None

    assert [path for path, _ in problems(doc)] == [f"nodes[1].{field}"]
