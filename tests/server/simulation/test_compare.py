"""End to end through the command line: changed decisions, legacy divergences, the CI gate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks.history import main as generate_history
from server.cli.main import main
from tests.server.simulation.conftest import write_jsonl


def _run(files: dict[str, Path], out: Path, *extra: str) -> int:
    return main(
        ["simulate", "run", "--network", str(files["network"]), "--orders", str(files["history"]),
         "--out", str(out), "--workers", "1", "--no-progress", *extra]
    )  # fmt: skip


def test_a_changed_rule_shows_in_the_changed_decisions_table(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert _run(files, out, "--compare", str(files["rules"])) == 0
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["decisions_changed"] == 1
    assert kpis["deltas"]["backordered_units"]["change"] == 1  # B cannot ship from ST-B any more
    html = (out / "report.html").read_text()
    table = html.split("<h2>Changed decisions (1)</h2>")[1]
    assert "O-2" in table and "no-store-b (added)" in table and "ST-B: L2x1" in table
    assert kpis["rule_edits"] == {"no-store-b": "added"}
    assert "O-1" not in table
    rows = {r["order_id"]: r for r in csv.DictReader((out / "orders.csv").open())}
    assert rows["O-2"]["changed"] == "1" and rows["O-1"]["changed"] == "0"
    assert rows["O-2"]["candidate_rules"] == "no-store-b"


def test_a_changed_setting_shows_too(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert _run(files, out, "--compare-set", "max_shipments=1") == 0
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["decisions_changed"] == 1 and kpis["sides"]["candidate"]["split_rate"] == 0


def test_the_legacy_comparison_flags_every_divergence(files: dict[str, Path], tmp_path: Path) -> None:
    legacy = write_jsonl(
        tmp_path / "legacy.jsonl",
        [
            {"order_id": "O-1", "allocations": [{"line_id": "L1", "node_id": "DC-A", "qty": 2}]},  # same
            {"order_id": "O-2", "allocations": [{"line_id": "L1", "node_id": "DC-A", "qty": 1}]},  # B not shipped
            {"order_id": "O-9", "allocations": []},  # not in the history
            # O-3 missing
        ],
    )
    out = tmp_path / "report"
    assert _run(files, out, "--legacy", str(legacy)) == 0
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["divergences"] == 3
    rows = {r["order_id"]: r["legacy_divergence"] for r in csv.DictReader((out / "orders.csv").open())}
    assert rows == {"O-1": "", "O-2": "different-allocation", "O-3": "missing-in-legacy"}
    html = (out / "report.html").read_text()
    assert "not-in-history" in html and "O-9" in html
    assert kpis["sides"]["legacy"]["total_cost"] == pytest.approx(7.0 + 6.5)  # costed with the cost model


def test_an_invalid_legacy_allocation_is_flagged(files: dict[str, Path], tmp_path: Path) -> None:
    legacy = write_jsonl(
        tmp_path / "legacy.jsonl",
        [
            {"order_id": "O-1", "allocations": [{"line_id": "L1", "node_id": "DC-Z", "qty": 2}]},
            {"order_id": "O-2", "allocations": [{"line_id": "L1", "node_id": "DC-A", "qty": 5}]},
            {"order_id": "O-3", "allocations": [{"line_id": "L1", "node_id": "DC-A", "qty": 1}]},
        ],
    )
    out = tmp_path / "report"
    assert _run(files, out, "--legacy", str(legacy)) == 0
    kinds = {r["order_id"]: r["legacy_divergence"] for r in csv.DictReader((out / "orders.csv").open())}
    assert kinds == {"O-1": "invalid", "O-2": "invalid", "O-3": ""}


def test_fail_if_exits_non_zero(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    compare = ("--compare", str(files["rules"]))
    assert _run(files, out, *compare, "--fail-if", "fill_rate<0") == 3
    assert "FAIL: fill_rate change -0.1429 (limit: at least 0; --fail-if 'fill_rate<0')" in capsys.readouterr().out
    assert _run(files, out, *compare, "--fail-if", "cost_per_order>+50%", "--fail-if", "decisions_changed>1") == 0
    assert _run(files, out, *compare, "--fail-if", "decisions_changed>0") == 3
    assert _run(files, out, "--fail-if", "cost_per_order>9") == 3  # one side: the value itself
    assert _run(files, out, "--fail-if", "cost_per_order>10") == 0
    assert _run(files, out, "--fail-if", "nonsense>1") == 2


def test_sides_in_their_own_processes_give_the_same_numbers(files: dict[str, Path], tmp_path: Path) -> None:
    docs = []
    for workers in ("1", "2"):
        out = tmp_path / workers
        argv = ["simulate", "run", "--network", str(files["network"]), "--orders", str(files["history"]),
                "--out", str(out), "--workers", workers, "--no-progress", "--compare", str(files["rules"])]  # fmt: skip
        assert main(argv) == 0
        doc = json.loads((out / "kpis.json").read_text())
        doc.pop("run")
        docs.append(doc)
    assert docs[0] == docs[1]


def test_generate_on_the_command_line_is_seeded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    network = Path(__file__).parents[3] / "data" / "sample-network.json"
    texts = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        argv = ["--network", str(network), "--orders", "150", "--days", "3",
                "--seed", "5", "--out", str(out), "--legacy-out", str(tmp_path / f"{name}-legacy.jsonl")]  # fmt: skip
        assert generate_history(argv) == 0
        texts.append((out.read_text(), (tmp_path / f"{name}-legacy.jsonl").read_text()))
    assert texts[0] == texts[1]
    assert len(texts[0][0].splitlines()) == 150 and len(texts[0][1].splitlines()) == 150
    assert "wrote 150 orders" in capsys.readouterr().out
