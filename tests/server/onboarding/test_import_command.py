"""``oms-sourcing import`` end to end on SQLite and PostgreSQL: a bad row writes nothing and is
reported by line and reason, the fixed report re-imports as it is, a re-run changes nothing, a
dry run writes nothing, JSON Lines, mapping transforms, hostile files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from server.cli.main import main
from server.store.base import Store
from tests.conftest import RawSql

NODES = """id,type,name,lat,lon,pick_pack_cost,unit_handling_cost,tags
DC-01,DC,Reno,39.53,-119.81,1.50,0.25,east|big
ST-01,STORE,Chicago,41.88,-87.63,2.00,0.30,
"""
ITEMS = """sku,unit_weight_lb,hazmat,attributes.color
A-1,1.5,no,red
A-2,0.5,yes,blue
"""


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _run(url: str, *args: str) -> int:
    return main(["import", *args, "--database", url, "--no-progress"])


def _catalogue(url: str, tmp_path: Path) -> None:
    assert _run(url, "nodes", str(_write(tmp_path / "nodes.csv", NODES))) == 0
    assert _run(url, "items", str(_write(tmp_path / "items.csv", ITEMS))) == 0


def _inventory(raw_sql: RawSql) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in raw_sql("SELECT sku, node_id, on_hand, version, as_of, updated_at FROM inventory ORDER BY 1, 2")
    ]


def _report(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return list(csv.DictReader(handle))


STOCK_ONE_BAD = """node_id,sku,on_hand
DC-01,A-1,10
DC-01,A-2,-3
ST-01,A-1,4
"""


def test_one_bad_row_writes_nothing_the_fix_writes_and_a_rerun_changes_nothing(
    store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _catalogue(store_url, tmp_path)
    stock = _write(tmp_path / "stock.csv", STOCK_ONE_BAD)
    report = tmp_path / "rejects.csv"
    capsys.readouterr()

    assert _run(store_url, "inventory", str(stock), "--report", str(report)) == 1
    said = capsys.readouterr().out
    assert "line 3: on_hand: must not be negative" in said
    assert "nothing written" in said
    assert _inventory(raw_sql) == []  # the good rows before and after it were not written either
    rejected = _report(report)
    assert rejected == [
        {
            "node_id": "DC-01",
            "sku": "A-2",
            "on_hand": "-3",
            "line": "3",
            "field": "on_hand",
            "reason": "must not be negative",
        }
    ]

    # The person fixes the report and imports it as it is (the line/field/reason columns are dropped).
    fixed = _write(tmp_path / "fixed.csv", report.read_text(encoding="utf-8").replace("DC-01,A-2,-3", "DC-01,A-2,3"))
    assert _run(store_url, "inventory", str(fixed), "--as-of", "2026-12-07T06:00:00Z") == 0
    assert [(r[0], r[1], r[2]) for r in _inventory(raw_sql)] == [("A-2", "DC-01", 3)]
    # ... and the rest of the original file, fixed the same way.
    _write(stock, STOCK_ONE_BAD.replace("-3", "3"))
    assert _run(store_url, "inventory", str(stock), "--as-of", "2026-12-07T06:00:00Z") == 0
    before = _inventory(raw_sql)
    assert [(r[0], r[1], r[2]) for r in before] == [("A-1", "DC-01", 10), ("A-1", "ST-01", 4), ("A-2", "DC-01", 3)]
    capsys.readouterr()

    assert _run(store_url, "inventory", str(stock), "--as-of", "2026-12-07T06:00:00Z") == 0
    assert "written: 0 changed, 3 unchanged" in capsys.readouterr().out
    assert _inventory(raw_sql) == before  # not even a version or updated_at moved
    # Without --as-of the file's modification time is the count's time: a re-run is the same file.
    assert _run(store_url, "inventory", str(stock)) == 0
    after_mtime = _inventory(raw_sql)
    assert _run(store_url, "inventory", str(stock)) == 0
    assert _inventory(raw_sql) == after_mtime


def test_a_rerun_of_nodes_and_items_changes_nothing(
    store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path
) -> None:
    _catalogue(store_url, tmp_path)
    snapshot = (
        raw_sql("SELECT * FROM nodes ORDER BY id"),
        raw_sql("SELECT * FROM items ORDER BY sku"),
        raw_sql("SELECT version FROM network_version"),
        raw_sql("SELECT version FROM catalogue_version"),
    )
    assert raw_sql("SELECT attributes FROM items WHERE sku = 'A-1'") == [('{"color": "red"}',)]
    assert json.loads(raw_sql("SELECT tags FROM nodes WHERE id = 'DC-01'")[0][0]) == ["big", "east"]
    _catalogue(store_url, tmp_path)
    assert snapshot == (
        raw_sql("SELECT * FROM nodes ORDER BY id"),
        raw_sql("SELECT * FROM items ORDER BY sku"),
        raw_sql("SELECT version FROM network_version"),
        raw_sql("SELECT version FROM catalogue_version"),
    )


def test_dry_run_writes_nothing_and_accept_partial_writes_the_good_rows(
    store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _catalogue(store_url, tmp_path)
    clean = _write(tmp_path / "clean.csv", STOCK_ONE_BAD.replace("-3", "3"))
    capsys.readouterr()
    assert _run(store_url, "inventory", str(clean), "--dry-run") == 0
    assert "dry run: 3 row(s) would be imported; nothing written" in capsys.readouterr().out
    assert _inventory(raw_sql) == []

    bad = _write(tmp_path / "bad.csv", STOCK_ONE_BAD)
    assert _run(store_url, "inventory", str(bad), "--dry-run") == 1  # a dry run that finds rejects says so
    assert (tmp_path / "bad.rejects.csv").exists()  # the default report, beside the file
    assert _inventory(raw_sql) == []
    assert _run(store_url, "inventory", str(bad), "--accept-partial") == 0
    assert [(r[0], r[1], r[2]) for r in _inventory(raw_sql)] == [("A-1", "DC-01", 10), ("A-1", "ST-01", 4)]


def test_every_kind_of_bad_row_is_reported_by_line(
    store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path
) -> None:
    _catalogue(store_url, tmp_path)
    stock = _write(
        tmp_path / "stock.csv",
        b"node_id,sku,on_hand\n"
        b"DC-01,A-1,10\n"  # 2: fine
        b"DC-09,A-1,1\n"  # 3: unknown node
        b"DC-01,ZZZ,1\n"  # 4: unknown SKU
        b"DC-01,A-1,7\n"  # 5: the position of line 2 again
        b"DC-01,A-2,1.5\n"  # 6: not a whole number
        b"DC-01,A-2,lots\n"  # 7: malformed number
        b"ST-01,A-\xff\xfe,1\n"  # 8: not UTF-8
        b"ST-01,A-2\n"  # 9: wrong column count
        b"ST-01,A-2,1,extra\n"  # 10: wrong column count
        b"ST-01,A-2,2\n",  # 11: fine
    )
    report = tmp_path / "r.csv"
    assert _run(store_url, "inventory", str(stock), "--report", str(report)) == 1
    reasons = {int(r["line"]): (r["field"], r["reason"]) for r in _report(report)}
    assert reasons == {
        3: ("node_id", "unknown node 'DC-09'"),
        4: ("sku", "unknown SKU 'ZZZ'"),
        5: ("sku", "repeats the position (node_id, sku) of line 2"),
        6: ("on_hand", "must be a whole number of base units, not 1.5"),
        7: ("on_hand", "is not a number: 'lots'"),
        8: ("sku", "is not UTF-8 text (a bad byte at character 3)"),
        9: ("", "has 2 columns; the header has 3"),
        10: ("", "has 4 columns; the header has 3 (values past the last column: extra)"),
    }
    assert b"ST-01,A-\xff\xfe,1," in report.read_bytes()  # the bad bytes go back as they came
    assert _inventory(raw_sql) == []


def test_hostile_files_are_refused_with_a_message_not_a_traceback(
    store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = _write(tmp_path / "huge.csv", b"node_id,sku,on_hand\n" + b"x" * (2 << 20) + b"\n")
    assert main(["import", "inventory", str(huge), "--database", store_url]) == 2
    assert "line 2 is longer than 1,048,576 bytes" in capsys.readouterr().err
    empty = _write(tmp_path / "empty.csv", b"")
    assert main(["import", "nodes", str(empty), "--database", store_url]) == 2
    assert "needs a header line" in capsys.readouterr().err
    binary = _write(tmp_path / "bin.csv", b"\xff\xfe\x00n\x00o\x00d\x00e\x00\n")
    assert main(["import", "nodes", str(binary), "--database", store_url]) == 2
    assert "the header is not UTF-8 text" in capsys.readouterr().err
    unknown = _write(tmp_path / "x.xlsx", b"PK")
    assert main(["import", "nodes", str(unknown), "--database", store_url]) == 2
    assert "give --format csv or jsonl" in capsys.readouterr().err
    mapping = _write(tmp_path / "m.toml", '[columns]\nPlant = "warehouse"\n')
    ok = _write(tmp_path / "ok.csv", "Plant,sku,on_hand\nDC-01,A-1,1\n")
    assert main(["import", "inventory", str(ok), "--mapping", str(mapping), "--database", store_url]) == 2
    assert "'warehouse', which is not a field" in capsys.readouterr().err
    assert main(["import", "inventory", str(tmp_path / "missing.csv"), "--database", store_url]) == 2


def test_json_lines(store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path) -> None:
    nodes = _write(
        tmp_path / "nodes.jsonl",
        '{"id": "DC-01", "type": "DC", "lat": 39.5, "lon": -119.8, "pick_pack_cost": "1.50",'
        ' "unit_handling_cost": 0.25}\n'
        "\n"
        '{"id": "DC-02", "type": "DC", "lat": 95, "lon": -119.8, "pick_pack_cost": 1, "unit_handling_cost": 0}\n'
        '{"id": "DC-03", "type": "DC", \n'
        "[1, 2]\n",
    )
    report = tmp_path / "r.jsonl"
    assert _run(store_url, "nodes", str(nodes), "--report", str(report)) == 1
    rejected = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [(r["_rejected"]["line"], r["_rejected"]["field"]) for r in rejected] == [(3, "lat"), (4, ""), (5, "")]
    assert rejected[0]["id"] == "DC-02"  # the object as it came, to fix and import again
    assert raw_sql("SELECT id FROM nodes") == []
    fixed = _write(tmp_path / "fixed.jsonl", json.dumps({**rejected[0], "lat": 45}) + "\n")
    assert _run(store_url, "nodes", str(fixed)) == 0  # the _rejected key is ignored
    assert raw_sql("SELECT id, lat FROM nodes") == [("DC-02", 45.0)]


def test_mapping_transforms(store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path) -> None:
    _catalogue(store_url, tmp_path)
    export = _write(
        tmp_path / "mb52.csv",
        "Plant;Material;Unrestricted;Counted\n"
        "1000; a-1 ;2,5;07.12.2026 06:00\n"  # 2.5 cases of 12 = 30 eaches
        "1100;a-2;1;07.12.2026 06:00\n"
        "1000;a-2;0,25;07.12.2026 06:00\n",  # 3 eaches
    )
    mapping = _write(
        tmp_path / "mb52.toml",
        """
delimiter = ";"
[columns]
Plant = "node_id"
Material = "sku"
Unrestricted = "on_hand"
Counted = "as_of"
[constants]
unit = "EA"
[transforms.node_id]
values = { "1000" = "DC-01", "1100" = "ST-01" }
[transforms.sku]
upper = true
[transforms.on_hand]
factor = 12
decimal_comma = true
[transforms.as_of]
date_format = "%d.%m.%Y %H:%M"
timezone = "Europe/Berlin"
""",
    )
    assert _run(store_url, "inventory", str(export), "--mapping", str(mapping)) == 0
    found = raw_sql("SELECT sku, node_id, on_hand FROM inventory ORDER BY 1, 2")
    assert [tuple(r) for r in found] == [("A-1", "DC-01", 30), ("A-2", "DC-01", 3), ("A-2", "ST-01", 12)]
    stamps = {str(r[0])[:19].replace(" ", "T") for r in raw_sql("SELECT as_of FROM inventory")}
    assert stamps == {"2026-12-07T05:00:00"}  # 06:00 in Berlin is 05:00 UTC

    # A count that is not a whole number of base units after the factor is refused.
    _write(export, "Plant;Material;Unrestricted;Counted\n1000;a-1;0,1;07.12.2026 07:00\n")
    report = tmp_path / "r.csv"
    assert _run(store_url, "inventory", str(export), "--mapping", str(mapping), "--report", str(report)) == 1
    assert _report(report)[0]["reason"] == "must be a whole number of base units, not 1.2 (0.1 x 12 = 1.2)"


def test_unit_other_than_the_base_unit_is_a_unit_mismatch(store: Store, store_url: str, tmp_path: Path) -> None:
    _catalogue(store_url, tmp_path)
    stock = _write(
        tmp_path / "s.csv",
        "node_id,sku,on_hand,unit,as_of\nDC-01,A-1,1,EA,\nDC-01,A-2,1,CS,\nST-01,A-2,1,EA,2099-01-01T00:00:00Z\n",
    )
    report = tmp_path / "r.csv"
    assert _run(store_url, "inventory", str(stock), "--report", str(report)) == 1
    assert [(r["line"], r["field"]) for r in _report(report)] == [("3", "unit"), ("4", "as_of")]
    assert _report(report)[1]["reason"].startswith("is in the future (after ")


def test_orders_become_an_order_history(
    store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.simulation.history import order_from_record

    _catalogue(store_url, tmp_path)
    export = _write(
        tmp_path / "orders.csv",
        "order_id,created_at,lat,lon,channel,line_id,sku,qty\n"
        "W-1,2026-11-01T10:00:00Z,41.9,-87.6,WEB,1,A-1,2\n"
        "W-1,2026-11-01T10:00:00Z,41.9,-87.6,WEB,2,A-2,1\n"
        "W-2,2026-11-01T11:00:00Z,41.9,-87.6,APP,1,A-1,1\n"
        "W-2,2026-11-01T11:00:00Z,41.9,-87.6,APP,2,NOPE,1\n",
    )
    mapping = _write(tmp_path / "m.toml", '[columns]\nlat = "ship_to.lat"\nlon = "ship_to.lon"\n')
    history = tmp_path / "history.jsonl"
    report = tmp_path / "r.csv"
    args = ["orders", str(export), "--mapping", str(mapping), "--out", str(history), "--report", str(report)]
    assert _run(store_url, *args) == 1
    assert not history.exists()  # all or nothing
    assert [(r["line"], r["field"]) for r in _report(report)] == [("4", ""), ("5", "sku")]  # the whole order W-2

    assert _run(store_url, *args, "--accept-partial") == 0
    first = history.read_bytes()
    records = [json.loads(line) for line in first.decode().splitlines()]
    assert [r["order_id"] for r in records] == ["W-1"]
    entry = order_from_record(records[0], store.get_items(["A-1", "A-2"]))  # what `simulate run` reads
    assert [(line.sku, line.qty) for line in entry.order.lines] == [("A-1", 2), ("A-2", 1)]
    assert entry.order.channel == "WEB"
    assert records[0]["ship_to"] == {"lat": 41.9, "lon": -87.6}
    assert _run(store_url, *args, "--accept-partial") == 0
    assert history.read_bytes() == first  # the same export, the same history


def test_hostile_json_lines_are_rejected_rows(store: Store, store_url: str, tmp_path: Path) -> None:
    hostile = _write(
        tmp_path / "h.jsonl",
        b'{"id": "A", "lat": NaN}\n'  # 1: not JSON
        + b'{"id": '
        + b"9" * 5000
        + b"}\n"  # 2: a number past what JSON decoding takes
        + b"[" * 100_000
        + b"\n"  # 3: nested past the recursion limit
        + b'{"id": "A", "id": "B"}\n'  # 4: a key twice
        + b'{"id": "\xff"}\n',  # 5: not UTF-8
    )
    report = tmp_path / "r.jsonl"
    assert _run(store_url, "nodes", str(hostile), "--report", str(report)) == 1
    lines = [json.loads(line)["_rejected"]["line"] for line in report.read_text(errors="replace").splitlines()]
    assert lines == [1, 2, 3, 4, 5]


def test_random_bytes_never_raise(store: Store, store_url: str, tmp_path: Path) -> None:
    import random

    chance = random.Random(23)
    for i in range(30):
        size = chance.choice([0, 1, 10, 200, 5000])
        blob = bytes(chance.choice(b'abc,;"\n\r\xff\x00{}[]:0123456789-.') for _ in range(size))
        for kind, suffix in (("inventory", "csv"), ("nodes", "jsonl"), ("orders", "csv")):
            path = _write(tmp_path / f"r{i}.{suffix}", blob)
            out = ["--out", str(tmp_path / "h.jsonl")] if kind == "orders" else []
            assert _run(store_url, kind, str(path), *out) in (0, 1, 2)


def test_orders_in_the_history_format_as_json_lines(store: Store, store_url: str, tmp_path: Path) -> None:
    _catalogue(store_url, tmp_path)
    order = {
        "order_id": "W-9", "created_at": "2026-11-02T08:00:00+01:00", "channel": "APP",
        "ship_to": {"lat": 41.9, "lon": -87.6, "country": "US"}, "customer": {"tier": "GOLD"},
        "lines": [{"line_id": "1", "sku": "A-1", "qty": 3}],
    }  # fmt: skip
    export = _write(tmp_path / "orders.jsonl", json.dumps(order) + "\n")
    history = tmp_path / "history.jsonl"
    assert _run(store_url, "orders", str(export), "--out", str(history)) == 0
    [record] = [json.loads(line) for line in history.read_text().splitlines()]
    assert record["created_at"] == "2026-11-02T07:00:00Z"
    assert record["ship_to"] == {"lat": 41.9, "lon": -87.6, "country": "US"}
    assert record["customer"] == {"tier": "GOLD"} and record["lines"][0]["qty"] == 3
    assert main(["import", "orders", str(export), "--database", store_url, "--report", str(export)]) == 2


def test_counts_name_skus_by_alias_and_come_in_the_items_units(
    store: Store, store_url: str, raw_sql: RawSql, tmp_path: Path
) -> None:
    from engine.catalog.aliases import AliasKind, build_alias
    from engine.catalog.units import ItemUnit

    _catalogue(store_url, tmp_path)
    store.upsert_sku_aliases(  # type: ignore[attr-defined]
        [build_alias(AliasKind.VENDOR, "WMS-77", "A-1"), build_alias(AliasKind.BARCODE, "4006381333931", "A-2")]
    )
    store.upsert_item_units([ItemUnit("A-1", "CASE", 12)])  # type: ignore[attr-defined]
    stock = _write(
        tmp_path / "s.csv",
        "node_id,sku,on_hand,unit\n"
        "DC-01,WMS-77,2,CASE\n"  # 2: a vendor SKU, counted in cases of 12
        "DC-01,4006381333931,5,EA\n"  # 3: a barcode, in eaches
        "ST-01,A-1,3,case\n"  # 4: the catalogue SKU, the unit in any case
        "ST-01,A-2,1,CASE\n"  # 5: A-2 has no CASE
        "ST-01,4006381333932,1,\n"  # 6: a barcode with a wrong check digit
        "ST-01,NOPE,1,\n",  # 7: neither a SKU nor an alias
    )
    report = tmp_path / "r.csv"
    assert _run(store_url, "inventory", str(stock), "--report", str(report)) == 1
    rejected = {int(r["line"]): (r["field"], r["reason"]) for r in _report(report)}
    assert set(rejected) == {5, 6, 7}
    assert rejected[5][0] == "unit" and "is not a unit of this item" in rejected[5][1]
    assert rejected[6][0] == "sku" and "check digit" in rejected[6][1]
    assert rejected[7] == ("sku", "unknown SKU 'NOPE'")

    _write(stock, "node_id,sku,on_hand,unit\nDC-01,WMS-77,2,CASE\nDC-01,4006381333931,5,EA\nST-01,A-1,3,case\n")
    assert _run(store_url, "inventory", str(stock)) == 0
    found = raw_sql("SELECT sku, node_id, on_hand FROM inventory ORDER BY 1, 2")
    assert [tuple(r) for r in found] == [("A-1", "DC-01", 24), ("A-1", "ST-01", 36), ("A-2", "DC-01", 5)]
    # The alias and the SKU name one position: given both, the file holds it twice.
    _write(stock, "node_id,sku,on_hand\nDC-01,WMS-77,2\nDC-01,A-1,2\n")
    assert _run(store_url, "inventory", str(stock), "--report", str(report)) == 1
    repeat = [("3", "repeats the position (node_id, sku) of line 2")]
    assert [(r["line"], r["reason"]) for r in _report(report)] == repeat


def test_order_lines_name_skus_by_alias_and_come_in_units(store: Store, store_url: str, tmp_path: Path) -> None:
    from engine.catalog.aliases import AliasKind, build_alias
    from engine.catalog.units import ItemUnit

    _catalogue(store_url, tmp_path)
    store.upsert_sku_aliases([build_alias(AliasKind.CHANNEL, "AMZ-1", "A-1")])  # type: ignore[attr-defined]
    store.upsert_item_units([ItemUnit("A-2", "SIX", 6)])  # type: ignore[attr-defined]
    export = _write(
        tmp_path / "orders.csv",
        "order_id,created_at,ship_to.lat,ship_to.lon,line_id,sku,qty,unit\n"
        "M-1,2026-11-01T10:00:00Z,41.9,-87.6,1,AMZ-1,2,\n"
        "M-1,2026-11-01T10:00:00Z,41.9,-87.6,2,A-2,2,SIX\n"
        "M-2,2026-11-01T11:00:00Z,41.9,-87.6,1,A-2,1,CASE\n",
    )
    history = tmp_path / "history.jsonl"
    report = tmp_path / "r.csv"
    args = ["orders", str(export), "--out", str(history), "--report", str(report), "--accept-partial"]
    assert _run(store_url, *args) == 0
    [record] = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(line["sku"], line["qty"]) for line in record["lines"]] == [("A-1", 2), ("A-2", 12)]
    assert [(r["line"], r["field"]) for r in _report(report)] == [("4", "unit")]
