"""Hostile rule files (docs/rules.md) for ValidateRules and ActivateRules.

Case ``index`` of seed ``seed`` is made by its own ``random.Random``. Kinds:

- ``mutated``: rules/default.yaml with lines dropped, doubled or swapped, indentation changed,
  characters flipped, or cut short;
- ``random-text``: random bytes read as Latin-1 (a request's string must be valid UTF-8);
- ``huge-scalar``: one scalar of up to 3 MB;
- ``many-rules``: thousands of copies of one rule;
- ``small-aliases``: anchors and aliases a few levels deep, a few copies each;
- ``deep-nesting``: flow or block collections thousands deep;
- ``alias-bomb``: anchors of anchors, each nine times the one before.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.fuzz.rpc_requests import REPO

DEFAULT_RULES = (REPO / "rules" / "default.yaml").read_text()
# Kinds left out of the default run (OMS_FUZZ_INCLUDE=kind,... runs them): none since the rule
# limits (docs/rules.md, "Limits") refuse deep nesting and alias bombs at once.
NOT_BY_DEFAULT: frozenset[str] = frozenset()


class RuleFileFuzzer:
    def __init__(self, include: frozenset[str] = frozenset()) -> None:
        kinds: dict[str, tuple[int, Callable[[random.Random], str]]] = {
            "mutated": (50, _mutated),
            "random-text": (12, lambda rng: rng.randbytes(rng.choice((1, 64, 4096))).decode("latin-1")),
            "huge-scalar": (4, _huge_scalar),
            "many-rules": (4, _many_rules),
            "small-aliases": (10, _small_aliases),
            "deep-nesting": (10, _deep_nesting),
            "alias-bomb": (10, _alias_bomb),
        }
        self.kinds = {name: kind for name, kind in kinds.items() if name not in NOT_BY_DEFAULT or name in include}

    def case(self, seed: int, index: int) -> tuple[str, str]:
        rng = random.Random(f"rules:{seed}:{index}")
        names = list(self.kinds)
        name = rng.choices(names, [self.kinds[n][0] for n in names])[0]
        return name, self.kinds[name][1](rng)


def _mutated(rng: random.Random) -> str:
    lines = DEFAULT_RULES.splitlines()
    for _ in range(rng.choice((1, 1, 2, 4, 10))):
        if not lines:  # every line dropped
            break
        at = rng.randrange(len(lines))
        how = rng.choice(("drop", "double", "swap", "indent", "dedent", "flip", "cut", "value"))
        if how == "drop":
            del lines[at]
        elif how == "double":
            lines.insert(at, lines[at])
        elif how == "swap":
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif how == "indent":
            lines[at] = " " * rng.choice((1, 2, 4)) + lines[at]
        elif how == "dedent":
            lines[at] = lines[at].lstrip()
        elif how == "flip" and lines[at]:
            column = rng.randrange(len(lines[at]))
            lines[at] = lines[at][:column] + rng.choice(":-{}[]&*!|>'\"#%@`,?\t\x00") + lines[at][column + 1 :]
        elif how == "cut":
            lines = lines[:at]
            if not lines:
                break
        elif how == "value" and ":" in lines[at]:
            head = lines[at].split(":", 1)[0]
            value = rng.choice(("", "null", "-1", "1e999", ".nan", "~", "[]", "{}", "!!binary aGk=", "x" * 5000))
            lines[at] = f"{head}: {value}"
    return "\n".join(lines) + "\n"


def _huge_scalar(rng: random.Random) -> str:
    size = rng.choice((100_000, 1_000_000, 3_000_000))
    where = rng.choice(("why", "id", "key"))
    if where == "key":
        return f"{'k' * size}: 1\n"
    return DEFAULT_RULES.replace("id: remodelled-nodes-closed", f"{where}: {'x' * size}", 1)


def _many_rules(rng: random.Random) -> str:
    count = rng.choice((1_000, 10_000))
    rule = "  - id: r{n}\n    why: w\n    then:\n      exclude: {{node: {{tag: [t]}}, reason: r}}\n"
    return "format: oms-sourcing/rules@1\ncurrency: USD\nrules:\n" + "".join(rule.format(n=n) for n in range(count))


def _small_aliases(rng: random.Random) -> str:
    return (
        "format: oms-sourcing/rules@1\ncurrency: USD\n"
        "base: &node {tag: [remodel]}\n"
        "rules:\n  - id: a\n    why: w\n    then:\n      exclude: {node: *node, reason: r}\n"
        "  - &rule {id: b, why: w, then: {exclude: {node: *node, reason: r}}}\n  - *rule\n"
    )


def _deep_nesting(rng: random.Random) -> str:
    depth = rng.choice((1_000, 10_000, 100_000))
    if rng.random() < 0.5:
        return "rules: " + "[" * depth + "]" * depth + "\n"
    return "".join("  " * level + "k:\n" for level in range(min(depth, 1_500)))


def _alias_bomb(rng: random.Random) -> str:
    levels = rng.choice((6, 9))
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append(f"rules: *a{levels - 1}")
    return "\n".join(lines) + "\n"
