"""Bad rule files are refused with file, line, rule id and field; nothing is half-loaded."""

from __future__ import annotations

import pytest

from engine.rules.loader import load_rule_set
from engine.rules.problems import RuleError, RuleSetError


def _errors(text: str, name: str = "bad.yaml") -> list[RuleError]:
    with pytest.raises(RuleSetError) as caught:
        load_rule_set([("good.yaml", "rules: [{id: fine, then: {hold: ok}}]"), (name, text)])
    return list(caught.value.errors)


def test_syntax_error_names_file_and_line() -> None:
    (error,) = _errors("rules:\n  - id: a\n    then: {hold: [x\n")
    assert (error.file, error.line) == ("bad.yaml", 4) and "YAML" in error.message


def test_unknown_verb_wrong_type_and_unknown_selector_value_all_reported() -> None:
    text = """rules:
  - id: one
    then: {explode: {node: {type: STORE}}}
  - id: two
    when: {order: {units: {gte: many}}}
    then: {limit: {max_shipments: 0}}
  - id: three
    then:
      exclude: {node: {type: WAREHOUSE}}
  - id: four
    then: {require: {node: {id: $order.secret}}}
"""
    errors = _errors(text)
    found = {(e.line, e.rule_id, e.field) for e in errors}
    assert (3, "one", "rules[0].then.explode") in found
    assert (5, "two", "rules[1].when.order.units.gte") in found
    assert (6, "two", "rules[1].then.limit.max_shipments") in found
    assert (9, "three", "rules[2].then.exclude.node.type") in found
    assert (11, "four", "rules[3].then.require.node.id[0]") in found
    assert all(e.file == "bad.yaml" for e in errors)
    assert "unknown value 'WAREHOUSE'" in str(RuleSetError(errors))


def test_duplicates_missing_fields_and_impossible_windows() -> None:
    text = """rules:
  - {id: fine, then: {hold: again}}
  - {id: no-then}
  - {then: {hold: x}}
  - {id: never, active: {from: 2026-12-01, to: 2026-11-01}, then: {hold: x}}
  - {id: hazmat, when: {line: {hazmat: "yes"}}, then: {hold: x}}
"""
    messages = {(e.line, e.field): e.message for e in _errors(text)}
    assert "duplicates rule 'fine'" in messages[(2, "rules[0].id")]
    assert messages[(3, "rules[1].then")] == "is required"
    assert messages[(4, "rules[2].id")] == "is required"
    assert "can never fire" in messages[(5, "rules[3].active")]
    assert messages[(6, "rules[4].when.line.hazmat")] == "must be true or false"


def test_version_is_the_content_hash() -> None:
    a = load_rule_set([("a.yaml", "rules: [{id: x, then: {hold: y}}]")])
    b = load_rule_set([("elsewhere.yaml", "rules: [{id: x, then: {hold: y}}]")])
    c = load_rule_set([("a.yaml", "rules: [{id: x, then: {hold: z}}]")])
    assert a.version == b.version != c.version


@pytest.mark.parametrize(
    "text",
    ["", "- 1", "rules: 3", "rules: [3]", "{rules: [{id: x, then: {}}]}", ": :", "rules: [{id: x, then: {hold: {}}}]"],
)
def test_malformed_documents_raise_rule_set_error_only(text: str) -> None:
    with pytest.raises(RuleSetError):
        load_rule_set([("f.yaml", text)])


def test_mutated_rule_files_never_crash_the_loader() -> None:
    import random
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "rules" / "default.yaml").read_text()
    rng = random.Random(3)
    junk = [*":{}[]-,'\"\n #&*!|>%@`$", "true", "1e9", "-1", "null", "STORE", "  "]
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(1000):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[i : i + rng.randint(1, 8)]
            else:
                chars.insert(i, rng.choice(junk))
        try:
            load_rule_set([("mutant.yaml", "".join(chars))])
            outcomes["loaded"] += 1
        except RuleSetError as e:
            assert e.errors and all(err.file == "mutant.yaml" and err.line >= 1 for err in e.errors)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 300


def test_applies_to_names_sourcing_returns_or_both() -> None:
    from engine.rules.model import RETURNS, SOURCING

    rules = load_rule_set(
        [
            (
                "ok.yaml",
                """rules:
  - {id: plain, then: {hold: x}}
  - {id: back, applies_to: returns, then: {exclude: {node: {type: STORE}}}}
  - {id: both, applies_to: [sourcing, returns], then: {prefer: {node: {type: DC}, per_unit: 1}}}
""",
            )
        ]
    ).rules
    assert [r.applies_to for r in rules] == [{SOURCING}, {RETURNS}, {SOURCING, RETURNS}]


def test_a_rule_for_returns_only_excludes_requires_penalizes_or_prefers() -> None:
    text = """rules:
  - id: wrong-verbs
    applies_to: [returns, sourcing]
    then:
      exclude: {node: {type: STORE}}
      limit: {max_shipments: 1}
      hold: review
  - {id: typo, applies_to: refunds, then: {exclude: {node: {type: STORE}}}}
  - {id: empty, applies_to: [], then: {exclude: {node: {type: STORE}}}}
"""
    messages = {(e.line, e.rule_id, e.field): e.message for e in _errors(text)}
    assert "does not apply to returns" in messages[(5, "wrong-verbs", "rules[0].then.limit")]
    assert "does not apply to returns" in messages[(5, "wrong-verbs", "rules[0].then.hold")]
    assert not any(field.endswith(".exclude") for _, _, field in messages)
    assert messages[(8, "typo", "rules[1].applies_to")] == "unknown value 'refunds': use sourcing or returns"
    assert messages[(9, "empty", "rules[2].applies_to")] == "names no decision: use sourcing or returns"
