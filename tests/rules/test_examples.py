"""The shipped rule set's examples (rules/tests/) pass, and would fail without the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.rules_examples import example_files, run_example_file

REPO = Path(__file__).resolve().parents[2]
FILES = example_files(REPO / "rules" / "tests")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rule_examples_pass(path: Path) -> None:
    results = run_example_file(path)
    assert results and [(r.name, r.failures) for r in results if not r.ok] == []


def test_the_examples_fail_without_the_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("rules: []\n")
    results = run_example_file(REPO / "rules" / "tests" / "default.yaml", [str(empty)])
    assert sum(not r.ok for r in results) >= len(results) - 3  # the "nothing happens" cases still pass
