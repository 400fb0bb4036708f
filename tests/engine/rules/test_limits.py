"""Hostile rule files are refused at a named limit, in the process, never by crashing it.

The limits (engine/limits.py, docs/rules.md "Limits") are checked while the YAML is read, so a
file over one is refused before the work grows. Sets durable-rules could not hold (its fixed
tables, engine/rules/capacity.py) are refused at load; those at the bound compile and match.
"""

from __future__ import annotations

import contextlib
from datetime import date

import pytest

from engine import limits
from engine.model import GeoPoint, Order, OrderLine
from engine.rules import compiled, load_rule_set
from engine.rules.capacity import MAX_COMPOUNDS, MAX_FOLLOWING, MAX_LISTS_ENDING, MAX_RULES_ENDING
from engine.rules.loader import file_name_problem
from engine.rules.located import LimitError, YamlError, parse
from engine.rules.problems import RuleError, RuleLimitError, RuleSetError
from tests.engine.rules.hostile import ALIAS_BOMB


def _limit(text: str, name: str = "hostile.yaml") -> RuleError:
    with pytest.raises(RuleLimitError) as caught:
        load_rule_set([(name, text)])
    (error,) = caught.value.errors
    assert error.file == name
    return error


def _rules(*bodies: str) -> str:
    return "rules:\n" + "".join(f"  - {body}\n" for body in bodies)


def test_nesting_50000_deep_is_refused_at_the_depth_limit() -> None:
    error = _limit("rules: " + "[" * 50_000 + "]" * 50_000)
    assert error.line == 1 and error.message == f"nests deeper than the limit of {limits.MAX_RULE_DEPTH} levels"


def test_nesting_up_to_the_limit_reads() -> None:
    inner = limits.MAX_RULE_DEPTH - 1  # the top mapping is the first level
    assert parse("a: " + "[" * inner + "]" * inner).values == 2 + inner
    with pytest.raises(LimitError):
        parse("a: " + "[" * (inner + 1) + "]" * (inner + 1))


def test_an_alias_bomb_is_refused_as_it_expands() -> None:
    assert len(ALIAS_BOMB.encode()) < 400
    error = _limit(ALIAS_BOMB)
    assert f"limit of {limits.MAX_RULE_SET_VALUES:,} values" in error.message
    assert error.line == 6  # f: nine aliases of e (9**5 values each) pass the limit on its line


def test_aliases_within_the_limit_read_and_count_what_they_repeat() -> None:
    text = """rules:
  - {id: a, then: {require: {node: &dc {type: DC}}}}
  - {id: b, then: {require: {node: *dc}}}
"""
    rule_set = load_rule_set([("ok.yaml", text)])
    assert [r.then.requires[0].node.types for r in rule_set.rules] == [("DC",), ("DC",)]
    assert parse("a: &x [1, 2, 3]\nb: [*x, *x]").values == 1 + (1 + 4) + (1 + 1 + 2 * 4)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: &a [1, *a]", 1, "refers to the value it is part of"),
        ("a: *nowhere", 1, "names no anchor defined before it"),
        ("a: &x 1\nb: &x 2", 2, "anchor &x is defined twice"),
        ("base: &b {tag: x}\nrules:\n  - {<<: *b, id: m}", 3, "merge keys (<<) are not supported"),
        ("a: " + "9" * 5000, 1, "Exceeds the limit (4300 digits)"),
        ("a: 1\n---\nb: 2", 2, "holds one document"),
        ("? [1, 2]\n: 3", 1, "key [...] must be text"),
        ("a: \ud800", 1, "is not valid Unicode text"),
    ],
)
def test_yaml_that_pyyaml_would_build_or_crash_on_is_a_rule_error(text: str, line: int, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        load_rule_set([("odd.yaml", text)])
    assert not isinstance(caught.value, RuleLimitError)
    (error,) = caught.value.errors
    assert (error.file, error.line) == ("odd.yaml", line) and message in error.message, error


def test_parse_raises_only_yaml_errors_on_junk() -> None:
    for junk in ["{" * 40, "- " * 40 + "x", "&a [*a]", "!!python/object:os.system x", "\x00", "a: !!binary =="]:
        with contextlib.suppress(YamlError):  # anything else fails the test
            parse(junk)


def test_bytes_files_and_rules_are_bounded() -> None:
    big = "# " + "x" * limits.MAX_RULE_FILE_BYTES + "\nrules: []\n"
    assert "limit of 1,048,576" in _limit(big).message
    third = "# " + "x" * (limits.MAX_RULE_SET_BYTES // 3) + "\nrules: []\n"
    with pytest.raises(RuleLimitError) as caught:
        load_rule_set([("a.yaml", third), ("b.yaml", third), ("c.yaml", third)])
    assert caught.value.errors[0].file == "c.yaml" and "together" in caught.value.errors[0].message
    files = [(f"f{i}.yaml", "rules: []") for i in range(limits.MAX_RULE_FILES + 1)]
    with pytest.raises(RuleLimitError):
        load_rule_set(files)
    many = _rules(*(f"{{id: r{i}, then: {{hold: x}}}}" for i in range(limits.MAX_RULES + 1)))
    error = _limit(many)
    assert error.line == limits.MAX_RULES + 2 and f"limit of {limits.MAX_RULES:,} rules" in error.message


def test_conditions_of_one_rule_are_bounded() -> None:
    fields = ", ".join(f"a{i}: x" for i in range(limits.MAX_RULE_CONDITIONS + 1))
    error = _limit(_rules(f"{{id: wide, when: {{order: {{attributes: {{{fields}}}}}}}, then: {{hold: x}}}}"))
    assert (error.rule_id, error.line, error.field) == ("wide", 2, "rules[0]")


def test_mistakes_listed_are_capped() -> None:
    text = _rules(*(f"{{id: r{i}, then: {{explode: 1}}}}" for i in range(limits.MAX_RULE_ERRORS + 50)))
    with pytest.raises(RuleSetError) as caught:
        load_rule_set([("bad.yaml", text)])
    errors = caught.value.errors
    assert len(errors) == limits.MAX_RULE_ERRORS + 1 and errors[-1].message == "and 50 more errors"


# -- what durable-rules can hold --------------------------------------------------------------------------


def _in_list(rule_id: str, field: str, values: list[str]) -> str:
    return f"{{id: {rule_id}, when: {{order: {{{field}: [{', '.join(values)}]}}}}, then: {{hold: x}}}}"


def _not_in(rule_id: str, field: str, count: int) -> str:
    values = ", ".join(str(i) for i in range(count))
    return f"{{id: {rule_id}, when: {{order: {{attributes: {{{field}: {{not_in: [{values}]}}}}}}}}, then: {{hold: x}}}}"


def _fired(text: str, channel: str) -> set[str]:
    rule_set = load_rule_set([("cap.yaml", text)])
    rules = compiled(rule_set)
    rules.memo_enabled = False
    order = Order("o", GeoPoint(40.0, -95.0), (OrderLine("l", "s", 1, 1.0),), channel=channel, priority=5)
    return {rule_set.rules[i].id for i in rules.match(order, date(2026, 1, 1))}


def test_sets_at_durable_rules_bounds_compile_and_match() -> None:
    values = [f"V{i}" for i in range(MAX_FOLLOWING)]
    assert _fired(_rules(_in_list("wide", "channel", values)), "V499") == {"wide"}
    same = _rules(
        *(f"{{id: s{i}, when: {{order: {{channel: WEB}}}}, then: {{hold: x}}}}" for i in range(MAX_RULES_ENDING))
    )
    assert len(_fired(same, "WEB")) == MAX_RULES_ENDING
    shared = _rules(*(_in_list(f"l{i}", "channel", ["WEB", f"B{i}"]) for i in range(MAX_LISTS_ENDING)))
    assert len(_fired(shared, "WEB")) == MAX_LISTS_ENDING and _fired(shared, "B3") == {"l3"}
    numbers = ", ".join(f"n{i}: {{gt: 1}}" for i in range(MAX_COMPOUNDS - 1))
    load_rule_set([("n.yaml", _rules(f"{{id: n, when: {{order: {{attributes: {{{numbers}}}}}}}, then: {{hold: x}}}}"))])


@pytest.mark.parametrize(
    ("text", "rule_id", "message"),
    [
        # 501 values after one test: registering them hung durable-rules' process forever
        (
            _rules(_in_list("wide", "channel", [f"V{i}" for i in range(MAX_FOLLOWING + 1)])),
            "wide",
            "different conditions",
        ),
        # 501 rules on one field, each its own value: the same hang
        (
            _rules(*(f"{{id: r{i}, when: {{order: {{channel: C{i}}}}}, then: {{hold: x}}}}" for i in range(501))),
            "r500",
            "different conditions",
        ),
        # rules with the same conditions: 300 of them is durable-rules' error 108, fewer overwrite memory
        (
            _rules(*(f"{{id: s{i}, when: {{order: {{channel: WEB}}}}, then: {{hold: x}}}}" for i in range(16))),
            "s15",
            "exactly these conditions",
        ),
        # in lists sharing a value: 100 of them aborted the process (free(): invalid size)
        (_rules(*(_in_list(f"l{i}", "channel", ["WEB", f"B{i}"]) for i in range(31))), "l30", "share a value"),
        # 15 number comparisons in one rule: error 113
        (
            _rules(
                "{id: n, when: {order: {attributes: {"
                + ", ".join(f"n{i}: {{gt: 1}}" for i in range(MAX_COMPOUNDS))
                + "}}}, then: {hold: x}}"
            ),
            "n",
            "comparing numbers",
        ),
        # more tests than durable-rules builds in about a third of a second
        (
            _rules(*(_not_in(f"t{i}", f"a{i}", 500) for i in range(limits.MAX_RULE_TESTS // 500 + 1))),
            "",
            f"more than the limit of {limits.MAX_RULE_TESTS:,} tests",
        ),
    ],
)
def test_sets_durable_rules_cannot_hold_are_refused_before_it_sees_them(text: str, rule_id: str, message: str) -> None:
    error = _limit(text)
    assert message in error.message, error
    if rule_id:
        assert error.rule_id == rule_id and error.field == "when"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("default.yaml", True),
        ("peak-2026_v2.yml", True),
        ("../../../../tmp/x.yaml", False),
        ("rules/default.yaml", False),
        ("a..yaml", False),
        (".hidden.yaml", False),
        ("-flag.yaml", False),
        ("notes.txt", False),
        ("p\x00.yaml", False),
        ("x" * (limits.MAX_RULE_FILE_NAME - 4) + ".yaml", False),
        ("x" * (limits.MAX_RULE_FILE_NAME - 4) + ".yml", True),
    ],
)
def test_rule_file_names_are_plain_names(name: str, ok: bool) -> None:
    assert (file_name_problem(name) is None) is ok
