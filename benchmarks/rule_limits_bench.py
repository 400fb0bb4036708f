"""The rule-file limits benchmark: the worst sets the limits accept, and how fast the rest is refused.

Each case is built at (or next to) a bound of engine/limits.py or engine/rules/capacity.py and
timed in CPU time of this process (``time.process_time``, so other load on a shared machine does
not inflate it), by step: loading (parse, read, capacity check), checking against the sample
network (what ValidateRules and ActivateRules do), and compiling into durable-rules (what
ActivateRules adds). Refused cases stop where the server stops. Shown, never asserted; the limits
are chosen so that the worst accepted set stays well under two seconds in all.

    .venv/bin/python -m benchmarks.rule_limits_bench              # about a minute
    .venv/bin/python -m benchmarks.rule_limits_bench --out-dir /tmp   # results elsewhere
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from engine import limits
from engine.network import NetworkSnapshot
from engine.rules import RuleSetError, compiled, load_rule_set
from engine.rules.checks import check_rule_set
from server.network_file import read_network_file

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def _rules(count: int, rule: Callable[[int], str]) -> str:
    return "rules:\n" + "".join(rule(k) for k in range(count))


def _in_list(rule_id: str, count: int) -> str:
    values = ", ".join(f"v{i}" for i in range(count))
    return f"  - {{id: {rule_id}, when: {{order: {{channel: [{values}]}}}}, then: {{hold: x}}}}\n"


def most_rules() -> list[tuple[str, str]]:
    """MAX_RULES rules as a large planner set has them: 300 attribute fields, a channel list, a why,
    a selector with a ``not``, and two directives: 50 values each."""
    return [
        (
            "most-rules.yaml",
            _rules(
                limits.MAX_RULES,
                lambda k: (
                    f"  - id: r{k}\n    why: rule {k} keeps some orders away from some nodes\n"
                    f"    priority: {k % 1000}\n"
                    f"    when: {{order: {{channel: [WEB, APP], attributes: {{a{k % 300}: v{k}}}}},"
                    f" ship_to: {{region: [US-CA, US-NY]}}}}\n"
                    f"    then:\n      exclude: {{node: {{type: STORE, tag: [t{k % 10}], not: {{region: US-TX}}}},"
                    f" reason: some reason}}\n"
                    f"      penalize: {{node: {{type: DC}}, per_unit: 0.5}}\n"
                ),
            ),
        )
    ]


def most_values() -> list[tuple[str, str]]:
    """Just under MAX_RULE_SET_VALUES: 1,000 rules, each excluding 18 selectors (97,000 values)."""
    selectors = ", ".join(f"{{node: {{tag: t{i}}}}}" for i in range(18))
    return [("most-values.yaml", _rules(1000, lambda k: f"  - {{id: r{k}, then: {{exclude: [{selectors}]}}}}\n"))]


def most_tests() -> list[tuple[str, str]]:
    """Just under MAX_RULE_TESTS tests for durable-rules: 29 rules, each not_in 500 values."""
    values = ", ".join(str(i) for i in range(500))
    return [
        (
            "most-tests.yaml",
            _rules(
                29,
                lambda k: (
                    f"  - {{id: t{k}, when: {{order: {{attributes: {{a{k}: {{not_in: [{values}]}}}}}}}},"
                    " then: {hold: x}}\n"
                ),
            ),
        )
    ]


def widest_lists() -> list[tuple[str, str]]:
    """29 rules with an in list of 500 values each (the most after one test), on fields of their own."""
    values = ", ".join(f"v{i}" for i in range(500))
    return [
        (
            "wide-lists.yaml",
            _rules(
                29,
                lambda k: (
                    f"  - {{id: w{k}, when: {{order: {{attributes: {{a{k}: [{values}]}}}}}}, then: {{hold: x}}}}\n"
                ),
            ),
        )
    ]


def most_conditions() -> list[tuple[str, str]]:
    """230 rules of MAX_RULE_CONDITIONS conditions each (about 15,000 tests)."""

    def fields(k: int) -> str:
        return ", ".join(f"a{(k + i) % 700}: x{k}" for i in range(limits.MAX_RULE_CONDITIONS))

    return [
        (
            "most-conditions.yaml",
            _rules(
                230,
                lambda k: f"  - {{id: c{k}, when: {{order: {{attributes: {{{fields(k)}}}}}}}, then: {{hold: x}}}}\n",
            ),
        )
    ]


def deepest() -> list[tuple[str, str]]:
    """1,000 rules whose selectors nest ``not`` to the depth limit."""
    depth = limits.MAX_RULE_DEPTH - 7  # rules, a rule, then, exclude, node: the levels above the first not
    selector = "{not: " * depth + "{type: STORE}" + "}" * depth
    return [("deepest.yaml", _rules(1000, lambda k: f"  - {{id: d{k}, then: {{exclude: {{node: {selector}}}}}}}\n"))]


def most_bytes() -> list[tuple[str, str]]:
    """MAX_RULE_SET_BYTES in two files of long explanations: few values, many bytes."""
    why = "x" * 2000
    one = _rules(500, lambda k: f"  - {{id: r{k}, why: {why}, then: {{hold: x}}}}\n")
    two = one.replace("id: r", "id: s")
    return [("a.yaml", one), ("b.yaml", two)]


def most_comparisons() -> list[tuple[str, str]]:
    """MAX_RULES rules on one field with 500 thresholds: the conflict checks spend their whole budget."""
    return [
        (
            "same-field.yaml",
            _rules(
                limits.MAX_RULES,
                lambda k: (
                    f"  - {{id: r{k}, when: {{order: {{value: {{gte: {k % 500}}}}}}},"
                    f" then: {{exclude: {{node: {{tag: t{k % 7}}}}}}}}}\n"
                ),
            ),
        )
    ]


ACCEPTED: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "most rules (1,000, realistic)": most_rules,
    "most values (97,000)": most_values,
    "most durable-rules tests (~14,600, not_in)": most_tests,
    "widest in lists (29 x 500)": widest_lists,
    "most conditions (230 x 64)": most_conditions,
    "most comparisons (1,000 on one field)": most_comparisons,
    "deepest selectors (1,000 x 25 nots)": deepest,
    "most bytes (2 x 1 MB, long whys)": most_bytes,
}

REFUSED: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "nested 50,000 deep": lambda: [("deep.yaml", "rules: " + "[" * 50_000 + "]" * 50_000)],
    "alias bomb (9 x 9 levels)": lambda: [("bomb.yaml", ALIAS_BOMB)],
    "one rule too many": lambda: [
        ("many.yaml", _rules(limits.MAX_RULES + 1, lambda k: f"  - {{id: r{k}, then: {{hold: x}}}}\n"))
    ],
    "values just past the limit": lambda: [
        *most_values(),
        ("more.yaml", _rules(1000, lambda k: f"  - {{id: m{k}, then: {{exclude: {{node: {{tag: t}}}}}}}}\n")),
    ],
    "tests just past the limit": lambda: [*most_tests(), ("more.yaml", _rules(1, lambda _: _in_list("w", 500)))],
    "in list of 501 values": lambda: [("wide.yaml", _rules(1, lambda _: _in_list("w", 501)))],
}


def _timed(step: Callable[[], T]) -> tuple[float, T]:
    gc.collect()
    started = time.process_time()
    result = step()
    return (time.process_time() - started) * 1000, result


def _accepted_row(label: str, files: list[tuple[str, str]], snapshot: NetworkSnapshot) -> str:
    size = sum(len(t.encode()) for _, t in files)
    load_ms, rule_set = _timed(lambda: load_rule_set(files))
    check_ms, _ = _timed(lambda: check_rule_set(rule_set, snapshot, date(2026, 11, 24)))
    compile_ms, _ = _timed(lambda: compiled(rule_set))
    times = (load_ms, check_ms, compile_ms, load_ms + check_ms + compile_ms)
    return "| " + " | ".join([label, f"{size:,}", f"{len(rule_set.rules):,}", *(f"{ms:.0f}" for ms in times)]) + " |"


def run() -> list[str]:
    network = read_network_file(ROOT / "data" / "sample-network.json")
    snapshot = NetworkSnapshot(network.nodes, rate_tables=network.rate_tables_in_force)
    lines = [
        "| accepted set | bytes | rules | load ms | check ms | compile ms | total ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, make in ACCEPTED.items():
        lines.append(_accepted_row(label, make(), snapshot))
    lines += ["", "| refused set | bytes | refused after ms | limit |", "|---|---|---|---|"]
    for label, make in REFUSED.items():
        files = make()
        size = sum(len(t.encode()) for _, t in files)

        def refuse(files: list[tuple[str, str]] = files) -> str:
            try:
                load_rule_set(files)
            except RuleSetError as e:
                return e.errors[0].message
            return "ACCEPTED (not a refusal case)"

        ms, message = _timed(refuse)
        lines.append(f"| {label} | {size:,} | {ms:.0f} | {str(message)[:90]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    lines = run()
    header = [
        f"# Rule-file limits, {date.today().isoformat()}",
        "",
        f"CPU time of one process ({platform.processor() or platform.machine()}, Python {platform.python_version()}),"
        " sample network; `python -m benchmarks.rule_limits_bench`. Limits: engine/limits.py, docs/rules.md.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    print(text)
    out = Path(args.out_dir) / f"{date.today().isoformat()}-rule-limits.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
