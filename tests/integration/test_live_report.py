"""``oms-sourcing report --since``: the simulation's KPIs over the decisions the service stored.

Orders are allocated through the real OrderService (gRPC, a settable clock) on both stores, one
held order through the store's own ``allocate_order`` (what Allocate calls), some in the window
and some out of it; the report's numbers are checked against a hand computation.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.orders.records import NewOrder
from server.cli.main import main
from server.store.base import RequestKey, Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import T0
from tests.integration.orders_helpers import Client, allocate, order, serve_orders

# NEAR is 6.9 miles from the ship-to (zone 1: $5.00 + $0.30/lb), MID 276 miles (zone 3: $6.00 + $0.45/lb);
# every node: pick/pack $1.25 a shipment, handling $0.25 a unit; every item weighs 1.5 lb.
STOCK = [("NEAR", "A", 10), ("MID", "B", 5)]
SINCE, UNTIL = T0 + timedelta(minutes=30), T0 + timedelta(hours=4)
DAY = 24 * 3600 * 1000


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, STOCK)
    yield client
    client.channel.close()


def _history(client: Client, store: Store) -> None:
    orders = client.orders
    orders.Allocate(allocate(order("BEFORE", ("A", 1)), hold_ms=DAY))  # at T0: before the window
    client.clock.advance(hours=1)
    orders.Allocate(allocate(order("O1", ("A", 2)), hold_ms=DAY))  # NEAR: 1.25 + 5.00 + 0.30*3 + 0.25*2 = 7.65
    client.clock.advance(hours=1)
    # NEAR A: 1.25 + 5.00 + 0.30*1.5 + 0.25 = 6.95; MID B: 1.25 + 6.00 + 0.45*1.5 + 0.25 = 8.175
    orders.Allocate(allocate(order("O2", ("A", 1), ("B", 1)), hold_ms=DAY))
    client.clock.advance(hours=1)
    orders.Allocate(allocate(order("O3", ("C", 1)), hold_ms=DAY))  # no stock anywhere: 1 unit backordered
    # A rule held this one (what Allocate stores for a held decision): allocates nothing.
    held = order("O4", ("A", 1))
    from google.protobuf import json_format

    summary = {
        "decision_id": "d-O4", "status": "SOLVE_STATUS_OPTIMAL", "path": "DECISION_PATH_UNSPECIFIED",
        "total_micros": 0, "allocations": [], "unfilled": [], "rule_set_version": "rs-7",
        "network_version": "", "fired_rules": ["fraud-review"], "holds": [["fraud-review", "fraud score 91"]],
    }  # fmt: skip
    store.allocate_order(  # type: ignore[attr-defined]
        RequestKey("k-O4", "Allocate", "h"),
        NewOrder("O4", json_format.MessageToJson(held, indent=None, sort_keys=True), (("L0", "A", 1),), DAY,
                 "rs-7", json.dumps(summary, sort_keys=True), "d-O4"),
        [],
        client.clock() + timedelta(minutes=30),
        b"",
    )  # fmt: skip
    client.clock.advance(hours=1)
    orders.Allocate(allocate(order("AT-UNTIL", ("A", 1)), hold_ms=DAY))  # the window is [since, until)


def _report(store_url: str, out: Path, *extra: str) -> int:
    args = ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat().replace("+00:00", "Z")]
    return main([*args, "--database", store_url, "--out", str(out), *extra])


def test_report_over_the_stored_decisions_matches_a_hand_computation(
    client: Client, store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _history(client, store)
    stored = {r.order_id: json.loads(r.decision) for r in store.allocated_between(SINCE, UNTIL)}  # type: ignore[attr-defined]
    assert list(stored) == ["O1", "O2", "O3", "O4"]
    assert stored["O1"]["fired_rules"] == [] and stored["O1"]["holds"] == []  # Allocate now keeps both

    assert _report(store_url, tmp_path / "r") == 0
    doc = json.loads((tmp_path / "r" / "kpis.json").read_text())
    live = doc["sides"]["live"]
    total = 7.65 + 6.95 + 8.175
    assert live["orders"] == 4
    assert live["decided_orders"] == 3 and live["held_orders"] == 1 and live["failed_orders"] == 0
    assert live["units_ordered"] == 2 + 2 + 1 + 1 and live["units_allocated"] == 4
    assert live["backordered_units"] == 1
    assert live["fill_rate"] == pytest.approx(4 / 6, abs=1e-6)
    assert live["shipments"] == 3 and live["split_orders"] == 1
    assert live["split_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert live["shipments_per_order"] == pytest.approx(1.0)
    assert live["total_cost"] == pytest.approx(total, abs=1e-6)
    assert live["cost_per_order"] == pytest.approx(total / 3, abs=1e-6)
    assert live["cost_per_unit"] == pytest.approx(total / 4, abs=1e-6)
    assert live["zone_mix"] == {"1": pytest.approx(2 / 3, abs=1e-6), "3": pytest.approx(1 / 3, abs=1e-6)}
    assert live["rules_fired"] == {"fraud-review": 1}
    assert {n["node_id"]: (n["shipments"], n["units"]) for n in live["nodes"]} == {"NEAR": (2, 3), "MID": (1, 1)}
    assert doc["run"]["orders"] == 4 and doc["run"]["rule_set_versions"] == {"(none)": 3, "rs-7": 1}
    assert live["miles_per_shipment"] == pytest.approx((6.9 + 6.9 + 276.3) / 3, abs=0.2)

    csv_rows = (tmp_path / "r" / "orders.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in csv_rows[1:]] == ["O1", "O2", "O3", "O4"]
    assert "live_status" in csv_rows[0] and ",HELD," in csv_rows[4]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "<h1>Live sourcing decisions</h1>" in html and "fraud-review" in html and "<script" not in html
    assert "live: 4 orders; cost_per_order=7.592" in capsys.readouterr().out


def test_fail_if_exits_non_zero_on_the_live_kpis(
    client: Client, store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _history(client, store)
    assert _report(store_url, tmp_path / "ok", "--fail-if", "fill_rate<0.5", "--fail-if", "cost_per_order>8") == 0
    assert _report(store_url, tmp_path / "bad", "--fail-if", "fill_rate<0.9") == 3
    assert "FAIL: fill_rate 0.6667 (limit: at least 0.9; --fail-if 'fill_rate<0.9')" in capsys.readouterr().out
    gate = json.loads((tmp_path / "bad" / "kpis.json").read_text())["fail_if"]
    assert gate[0]["failed"] is True and gate[0]["measured"] == pytest.approx(4 / 6, abs=1e-6)
    assert "CI gate: 1 of 1 threshold(s) failed" in (tmp_path / "bad" / "report.html").read_text()


def test_a_baseline_window_gives_deltas_and_gates_on_the_change(
    client: Client, store: Store, store_url: str, tmp_path: Path
) -> None:
    _history(client, store)
    earlier = ["--baseline-since", T0.isoformat(), "--baseline-until", SINCE.isoformat()]  # BEFORE alone
    assert _report(store_url, tmp_path / "w", *earlier, "--fail-if", "fill_rate<0") == 3  # 1.0 -> 4/6
    doc = json.loads((tmp_path / "w" / "kpis.json").read_text())
    assert doc["baseline"] == "earlier" and doc["candidate"] == "live"
    assert doc["sides"]["earlier"]["orders"] == 1
    assert doc["sides"]["earlier"]["cost_per_order"] == pytest.approx(1.25 + 5.00 + 0.45 + 0.25, abs=1e-6)
    assert doc["deltas"]["cost_per_order"]["candidate"] == pytest.approx((7.65 + 6.95 + 8.175) / 3, abs=1e-6)
    assert doc["deltas"]["fill_rate"]["change"] == pytest.approx(4 / 6 - 1, abs=1e-6)
    html = (tmp_path / "w" / "report.html").read_text()
    assert "KPI change: live vs earlier" in html and "No order was decided differently" not in html


def test_a_parallel_run_flags_every_divergence_from_the_legacy_decisions(
    client: Client, store: Store, store_url: str, tmp_path: Path
) -> None:
    _history(client, store)
    legacy = tmp_path / "legacy.jsonl"
    records = [
        {"order_id": "BEFORE", "allocations": [{"line_id": "L0", "node_id": "MID", "qty": 1}]},  # outside: ignored
        {"order_id": "O1", "allocations": [{"line_id": "L0", "node_id": "NEAR", "qty": 2}]},  # the same
        {"order_id": "O2", "allocations": [{"line_id": "L0", "node_id": "MID", "qty": 1},
                                           {"line_id": "L1", "node_id": "MID", "qty": 1}]},  # one box from MID
        {"order_id": "O4", "allocations": [{"line_id": "L0", "node_id": "NEAR", "qty": 1}]},  # held here
    ]  # fmt: skip
    legacy.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert _report(store_url, tmp_path / "p", "--legacy", str(legacy), "--fail-if", "divergences>0") == 3
    doc = json.loads((tmp_path / "p" / "kpis.json").read_text())
    assert doc["divergences"] == 3
    rows = (tmp_path / "p" / "orders.csv").read_text().splitlines()
    kinds = {row.split(",")[0]: row.split(",")[6] for row in rows[1:]}
    assert kinds == {"O1": "", "O2": "different-allocation", "O3": "missing-in-legacy", "O4": "different-status"}
    # MID: 1.25 + 6.00 + 0.45*3 + 0.25*2 for O2's one box; O1 as decided; O4's unit at NEAR
    assert doc["sides"]["legacy"]["total_cost"] == pytest.approx(7.65 + 9.10 + 6.95, abs=1e-6)


def test_bad_window_and_threshold_are_usage_errors(sqlite_store: Store, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["report", "--since", "yesterday", "--database", url, "--out", str(tmp_path)]) == 2
    assert main(["report", "--since", "2026-11-24", "--until", "2026-11-23", "--database", url]) == 2
    assert main(["report", "--since", "2026-11-24", "--fail-if", "nonsense>1", "--database", url]) == 2
    both = ["--baseline-since", "2026-11-01", "--legacy", str(tmp_path / "l.jsonl")]
    assert main(["report", "--since", "2026-11-24", *both, "--database", url]) == 2


def test_an_empty_window_writes_an_empty_report_and_gates_nothing(
    store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A quiet night is not an alert: no orders, no KPI to fail (a fill rate of 0 used to fail it)."""
    assert _report(store_url, tmp_path / "empty", "--fail-if", "fill_rate<0.98", "--fail-if", "cost_per_order>12") == 0
    doc = json.loads((tmp_path / "empty" / "kpis.json").read_text())
    assert doc["sides"]["live"]["orders"] == 0
    assert (tmp_path / "empty" / "report.html").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "live: no orders in the window" in printed
    assert "skipped: fill_rate not measured, no orders (--fail-if 'fill_rate<0.98')" in printed


def test_a_store_that_cannot_be_read_is_a_clean_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 with one line naming the store: no traceback, and no empty database left behind."""
    missing = tmp_path / "no-such.db"
    assert main(["report", "--since", "2026-11-24", "--database", f"sqlite:///{missing}", "--out", str(tmp_path)]) == 2
    assert f"no SQLite database at {missing}" in capsys.readouterr().err and not missing.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert main(["report", "--since", "2026-11-24", "--database", f"sqlite:///{empty}", "--out", str(tmp_path)]) == 2
    assert "holds no oms-sourcing store" in capsys.readouterr().err
    unreachable = "postgresql://oms:secret@127.0.0.1:1/oms?connect_timeout=2"
    assert main(["report", "--since", "2026-11-24", "--database", unreachable, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the store" in err and "secret" not in err and "Traceback" not in err
