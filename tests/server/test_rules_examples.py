"""The shipped rule set's examples (rules/tests/) pass, and would fail without the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli.rules_examples import example_files, run_example_file

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
    assert sum(not r.ok for r in results) >= len(results) - 4  # the "nothing happens" cases still pass


def test_a_return_expectation_fails_when_the_route_differs(tmp_path: Path) -> None:
    cases = tmp_path / "returns.yaml"
    cases.write_text(
        f"""rules: [{REPO / "rules" / "default.yaml"}]
network: {REPO / "data" / "sample-network.json"}
cases:
  - name: wrong node
    order: {{ship_to: {{lat: 37.34, lon: -121.89}}, lines: [{{sku: BTY-00003, qty: 1}}]}}
    expect: {{returns: {{to: ST-001, to_types: [STORE], fired: []}}}}
"""
    )
    (result,) = run_example_file(cases)
    assert list(result.failures) == [
        "returns.to: expected ST-001, got DC-04",
        "returns.to_types: received at DC-04 (DC)",
        "returns.fired: expected [], got ['hazmat-returns-to-certified-dcs']",
    ]
