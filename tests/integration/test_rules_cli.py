"""`oms-sourcing rules ...`: validate, test, show, diff offline; activate, status, rollback on a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli.main import main
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import REPO

DEFAULT = str(REPO / "rules" / "default.yaml")


def test_validate_reports_file_line_rule_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    then: {exclude: {node: {type: SHOP}}}\n")
    assert main(["rules", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: rule x: rules[0].then.exclude.node.type: unknown value 'SHOP'" in out
    ghost = tmp_path / "ghost.yaml"
    ghost.write_text("rules:\n  - {id: y, then: {require: {node: {id: ST-999}}}}\n")
    assert main(["rules", "validate", str(ghost)]) == 1
    assert "unknown node 'ST-999'" in capsys.readouterr().out
    assert main(["rules", "validate", DEFAULT, "--network", str(REPO / "data" / "sample-network.json")]) == 0
    assert "valid: 15 rules" in capsys.readouterr().out


def test_test_show_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", str(REPO / "rules" / "tests")]) == 0
    assert "19 passed, 0 failed" in capsys.readouterr().out
    assert main(["rules", "show", DEFAULT, "--compiled"]) == 0
    assert '"$gte": {"f' in capsys.readouterr().out
    changed = tmp_path / "changed.yaml"
    text = (
        Path(DEFAULT)
        .read_text()
        .replace("{gte: 1000}", "{gte: 2000}")
        .replace("  - id: overflow-3pl-last", "  - id: overflow-3pl-later")
    )
    changed.write_text(text)
    assert main(["rules", "diff", DEFAULT, str(changed)]) == 0
    out = capsys.readouterr().out
    assert "~ high-value-ship-complete: when.order.value.gte: 1000 -> 2000" in out
    assert "- overflow-3pl-last: removed {priority: 50, then: {penalize: {node: {tag: overflow}" in out
    assert "+ overflow-3pl-later: added" in out and "3 rules differ" in out
    assert main(["rules", "test", str(REPO / "rules" / "tests"), "--rules", str(changed)]) == 1  # examples catch it


def test_diff_names_each_changed_field_in_the_planners_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = tmp_path / "changed.yaml"
    text = (
        Path(DEFAULT)
        .read_text()
        .replace("protect: {node: {type: STORE}, units: 2}", "protect: {node: {type: STORE}, units: 3}")
        .replace("when: {order: {channel: MARKETPLACE}}", "when: {order: {channel: [MARKETPLACE, WEB]}}")
        .replace("exclude: {node: {tag: [remodel]}", "exclude: {node: {tag: [remodel, flooded]}")
        .replace("hold: {reason: fraud score of 80 or more}", "hold: {reason: a fraud score of 80 or more}")
        .replace("GBP: 1.27", "GBP: 1.25")
    )
    changed.write_text(text)
    assert main(["rules", "diff", DEFAULT, str(changed)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        "~ hold-suspicious-orders: then.hold.reason: fraud score of 80 or more -> a fraud score of 80 or more",
        "~ marketplace-orders-from-dcs: when.order.channel: added WEB",
        "~ remodelled-nodes-closed: then.exclude.node.tag: added flooded",
        "~ store-safety-stock: then.protect.units: 2 -> 3",
        "~ rates.GBP: 1.27 -> 1.25",
        "4 rules differ; 1 currency or rate changes",
    ]


def test_diff_of_the_same_rules_spelled_differently_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("rules:\n  - {id: x, scope: {order: {channel: WEB}}, then: {exclude: {node: {type: [DC]}}}}\n")
    b.write_text("rules:\n  - id: x\n    when: {order: {channel: [WEB]}}\n    then: {exclude: {node: {type: DC}}}\n")
    assert main(["rules", "diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no differences in rules"


def test_show_prints_the_rules_as_a_planner_writes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", DEFAULT]) == 0
    out = capsys.readouterr().out
    assert "$gte" not in out and "ruleset " not in out  # not durable-rules' compiled form
    store = out[out.index("- id: store-safety-stock") :].split("\n# ")[0].splitlines()
    assert store == [
        "- id: store-safety-stock",
        "  why: Keep two units of every SKU on store shelves for walk-in customers.",
        "  priority: 100",
        "  when: {order: {delivery_method: SHIP}}",
        "  then:",
        "    protect: {node: {type: STORE}, units: 2}",
    ]
    assert "  active: {from: 2026-11-27, to: 2026-12-01}" in out
    assert "    prefer: {node: {tag: clearance}, per_unit: 0.5}" in out  # a preference, not a negative penalty
    assert f"# {DEFAULT}:9\n- id: remodelled-nodes-closed" in out  # where each rule was written
    shown = tmp_path / "shown.yaml"  # and it is a rule file: it loads back as the same rules
    shown.write_text(out)
    assert main(["rules", "diff", DEFAULT, str(shown)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no differences in rules"


def test_activate_status_and_rollback(
    start_server: ServerFactory, sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = start_server(sqlite_store)
    target = ["--target", running.target]
    other = tmp_path / "other.yaml"
    other.write_text("rules:\n  - {id: hold-all, then: {hold: {reason: freeze}}}\n")
    assert main(["rules", "activate", DEFAULT, "--by", "ann", *target]) == 0
    assert main(["rules", "activate", str(other), "--by", "bob", *target]) == 0
    assert main(["rules", "rollback", "--by", "cy", *target]) == 0
    capsys.readouterr()
    assert main(["rules", "status", *target]) == 0
    out = capsys.readouterr().out
    assert "15 rules" in out and "#3 ROLLBACK" in out and "by bob" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{id: z}]\n")
    assert main(["rules", "activate", str(bad), "--by", "ann", *target]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
