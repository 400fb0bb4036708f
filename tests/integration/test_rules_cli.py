"""`oms-sourcing rules ...`: validate, test, show, diff offline; activate, status, rollback on a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import main
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
    assert main(["rules", "show", DEFAULT]) == 0
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
    assert "~ high-value-ship-complete  (changed: conditions)" in out
    assert "- overflow-3pl-last  (removed)" in out and "+ overflow-3pl-later" in out
    assert main(["rules", "test", str(REPO / "rules" / "tests"), "--rules", str(changed)]) == 1  # examples catch it


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
