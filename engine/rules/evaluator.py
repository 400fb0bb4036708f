"""Rule evaluation on durable-rules, with its known faults absorbed (docs/design reliability).

- One process-wide lock: its C core holds global state and crashed under unlocked threads.
- Its host's timer threads never start (they run actions in the background and never stop).
- One session per evaluation, deleted after (the 1,025th live session raises MemoryError).
- Unique ids on facts (identical facts in one session raise).
- A catch-all rule (a fact no rule matches raises) that also proves every fact was seen.
- Fail closed: an action's exception does not propagate out of durable-rules, so every
  action records its own failure and the evaluation raises RulesEvaluationError.
- Each rule-set version compiles to its own uniquely named ruleset, registered once and never
  redefined; compiled sets are cached. At most MAX_COMPILED_VERSIONS stay registered: the least
  recently used beyond that is deleted under the lock, when no session of it can be live (its
  C-side memory is never freed otherwise: 8 large versions grew a worker from 88 to 345 MiB).
  An evaluation that still holds a retired one compiles its version again.

Only the *when* side runs in durable-rules; the directives are built in numpy (build.py).
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import durable_rules_engine
from durable import engine as durable_engine

from engine.directives import Directives
from engine.errors import SourcingError
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.rules.build import Matches, build_directives
from engine.rules.cache import DirectivesCache
from engine.rules.capacity import first_overflow
from engine.rules.facts import FactValue, order_facts
from engine.rules.model import NUMERIC_OPS, SOURCING, Condition, Fact, FieldType, Op, Rule, RuleSet


class RulesEvaluationError(SourcingError):
    """Evaluation failed; the caller must not decide without its rules (fail closed)."""


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    def _run(self) -> None:
        """No timer threads: every action runs inside the call that asserted the facts."""


_LOCK = threading.Lock()
_HOST: _QuietHost | None = None
_IDS = itertools.count()
_COMPILED: dict[str, CompiledRules] = {}
_USES = itertools.count()
# The active version, the one a rollback returns to, and a few a simulation or a validation of
# candidates may be comparing; more would each hold their durable-rules memory for nothing.
MAX_COMPILED_VERSIONS = 8
_CATCH_ALL = "catch_all"
MEMO_LIMIT = 65_536  # distinct facts remembered per compiled rule set


class _Run:
    """What the actions of one evaluation report (only touched while the lock is held)."""

    def __init__(self) -> None:
        self.matches: dict[int, set[int]] = {}
        self.seen = 0
        self.failures: list[str] = []


_current: _Run | None = None


def _host() -> _QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def compiled(rule_set: RuleSet) -> CompiledRules:
    """The compiled form of a rule-set version, registered with durable-rules while it is in use.

    Pass the same RuleSet object on every call (``compiled(x).rule_set`` is the canonical one):
    then this is a dictionary lookup without the lock; an equal copy costs a deep comparison."""
    found = _COMPILED.get(rule_set.version)
    if found is not None and found.rule_set is rule_set:
        found.last_used = next(_USES)
        return found
    with _LOCK:
        found = _COMPILED.get(rule_set.version)
        if found is None or found.rule_set != rule_set:
            found = CompiledRules(rule_set, f"oms_rules_{rule_set.version}_{next(_IDS)}")
            definition = found.definition()
            overflow = first_overflow(definition)
            if overflow is not None:  # loading refuses such a set; this guards anything built otherwise
                raise RulesEvaluationError(f"rule set {rule_set.version} does not fit durable-rules: {overflow[1]}")
            _host().register_rulesets({found.name: definition})
            _COMPILED[rule_set.version] = found
            _retire_beyond(MAX_COMPILED_VERSIONS, keep=found)
        found.last_used = next(_USES)
        return found


def _retire_beyond(limit: int, keep: CompiledRules) -> None:
    """Delete the least recently used rulesets past ``limit`` (the lock is held: no session is live)."""
    while len(_COMPILED) > limit:
        oldest = min((c for c in _COMPILED.values() if c is not keep), key=lambda c: c.last_used)
        del _COMPILED[oldest.rule_set.version]
        host = _host()
        ruleset = host._ruleset_directory.pop(oldest.name)
        host._ruleset_list.remove(ruleset)
        durable_rules_engine.delete_ruleset(ruleset._handle)
        oldest.retired = True


def over_capacity(rule_set: RuleSet) -> tuple[Rule, str] | None:
    """The first rule whose conditions would overflow durable-rules (capacity.py), and how; None
    when the set fits. Pure: nothing is registered."""
    overflow = first_overflow(CompiledRules(rule_set, "capacity-check").definition())
    if overflow is None:
        return None
    name, message = overflow
    # "r<position>", "q<position>" (a per-line rule's order part), or the catch-all after the rules
    by_position = {r.position: r for r in rule_set.rules}
    return by_position.get(int(name[1:]) if name[0] in "rq" else -1, rule_set.rules[-1]), message


def evaluate(
    rule_set: RuleSet,
    order: Order,
    snapshot: NetworkSnapshot,
    day: date,
    shipments_today: Mapping[str, int] | None = None,
    purpose: str = SOURCING,
) -> Directives:
    """The directives ``rule_set`` gives ``order`` on ``day`` for one kind of decision (``purpose``:
    where it ships from, or where its return is received), stamped with rule ids and the version."""
    rules = compiled(rule_set)

    def match() -> Matches:
        matches = rules.match(order, day)
        if rules.mixed_purposes:
            matches = {p: lines for p, lines in matches.items() if purpose in rules.purposes[p]}
        return matches

    def build(matches: Matches) -> Directives:
        return build_directives(rule_set, matches, order, snapshot, shipments_today)

    if not rules.cache_enabled:
        return build(match())
    return rules.cache.directives(order, snapshot, day, purpose, match, build)


class CompiledRules:
    def __init__(self, rule_set: RuleSet, name: str) -> None:
        self.rule_set = rule_set
        self.name = name
        self.last_used = 0
        self.retired = False  # its ruleset was deleted (_retire_beyond): compile the version again
        self.all_facts = rule_set.facts()
        self.fields: dict[Fact, str] = {fact: f"f{i}" for i, fact in enumerate(self.all_facts)}
        # Rules without conditions have no *when* side: they fire on every order without a
        # durable-rules action (~25 µs each); everything with a condition runs in durable-rules.
        self.always = tuple(r.position for r in rule_set.rules if not r.conditions)
        # All rules are matched in one pass; a decision keeps those for its purpose.
        self.purposes = {r.position: r.applies_to for r in rule_set.rules}
        self.mixed_purposes = any(r.applies_to != {SOURCING} for r in rule_set.rules)
        self.conditional = tuple(r for r in rule_set.rules if r.conditions)
        # Facts are small projections: one per group of rules reading the same fields (of the
        # order, or of each line), so each repeats often and durable-rules' answer per distinct
        # fact is memoized. A per-line rule compiles to its line conditions ("r<position>", on
        # line facts) and, when it has any, its order conditions ("q<position>", on order facts,
        # recorded as -1 - position); it fires on a line when both parts match.
        self.kinds: dict[tuple[bool, frozenset[Fact]], str] = {}
        self.parts: list[tuple[str, int, tuple[Condition, ...]]] = []  # (fact kind, key, conditions)
        self.order_part: set[int] = set()
        for rule in self.conditional:
            on_order = tuple(c for c in rule.conditions if not c.fact.per_line)
            on_line = tuple(c for c in rule.conditions if c.fact.per_line)
            if not rule.per_line:
                self.parts.append((self._kind(False, on_order), rule.position, on_order))
                continue
            self.parts.append((self._kind(True, on_line), rule.position, on_line))
            if on_order:
                self.parts.append((self._kind(False, on_order), -1 - rule.position, on_order))
                self.order_part.add(rule.position)
        self.order_groups = [(k, self._names(f)) for (per_line, f), k in self.kinds.items() if not per_line]
        self.line_groups = [(k, self._names(f)) for (per_line, f), k in self.kinds.items() if per_line]
        # What fires for a fact depends on its content alone, and a number only on where it lies
        # among the constants it is compared with: numbers are sent as a representative of that
        # interval (exact for every operator), so distinct facts are few.
        self.cuts: dict[str, tuple[float, ...]] = {}
        for rule in self.conditional:
            for c in rule.conditions:
                if c.fact.type is FieldType.NUMBER:
                    name = self.fields[c.fact]
                    numbers = {float(v) for v in c.values if isinstance(v, int | float) and not isinstance(v, bool)}
                    self.cuts[name] = tuple(sorted(set(self.cuts.get(name, ())) | numbers))
        self.memo_enabled = True
        # Directives by what the rules read (engine/rules/cache.py); off: every call evaluates.
        self.cache_enabled = True
        self.cache = DirectivesCache(rule_set, self.all_facts)
        self._memo: dict[tuple[Any, ...], frozenset[int]] = {}

    def _kind(self, per_line: bool, conditions: tuple[Condition, ...]) -> str:
        key = (per_line, frozenset(c.fact for c in conditions))
        if key not in self.kinds:
            self.kinds[key] = f"{'l' if per_line else 'o'}{len(self.kinds)}"
        return self.kinds[key]

    def _names(self, facts: frozenset[Fact]) -> tuple[str, ...]:
        names = []
        for fact in sorted(facts, key=lambda f: self.fields[f]):
            names.append(self.fields[fact])
            if fact.type is FieldType.NUMBER:
                names.append(f"h{self.fields[fact]}")
        return tuple(names)

    def definition(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for kind, key, conditions in self.parts:
            name = f"r{key}" if key >= 0 else f"q{-1 - key}"
            rules[name] = {"all": [{"m": self._when(kind, conditions)}], "run": _action(key)}
        kinds = [{"k": kind} for kind in self.kinds.values()] or [{"k": "none"}]
        rules[_CATCH_ALL] = {"all": [{"m": _any(kinds)}], "run": _catch_all}
        return rules

    def _when(self, kind: str, conditions: tuple[Condition, ...]) -> dict[str, Any]:
        return {"$and": [{"k": kind}, *(self._condition(c) for c in conditions)]}

    def _condition(self, condition: Condition) -> dict[str, Any]:
        name = self.fields[condition.fact]
        op, values = condition.op, condition.values
        test: dict[str, Any]
        if op is Op.EXISTS:
            test = {"$neq": {name: ""}} if values[0] else {name: ""}
        elif op in NUMERIC_OPS:
            test = {f"${op.value}": {name: values[0]}}
        elif op is Op.EQ:
            test = {name: values[0]}
        elif op is Op.NE:
            test = {"$neq": {name: values[0]}}
        elif op is Op.IN:
            test = _any([{name: v} for v in values])
        else:  # NOT_IN
            test = _all([{"$neq": {name: v}} for v in values])
        if condition.fact.type is FieldType.NUMBER:  # an absent number fails every comparison
            return {"$and": [{f"h{name}": True}, test]}
        return test

    def facts(self, order: Order, day: date) -> list[tuple[int, dict[str, Any]]]:
        """(line index, or -1 for the order; the fact) for each group (no ids: see ``_durable``)."""
        return [(line_index, _fact(key, names)) for line_index, key, names in self._keys(order, day)]

    def _keys(self, order: Order, day: date) -> list[tuple[int, tuple[Any, ...], tuple[str, ...]]]:
        """(line index, memo key, field names) per fact. The key is the fact's kind, then its values
        in the group's field order: the fact's whole content, so the fact itself (a dict) is built
        only when durable-rules must see it (a memo miss)."""
        values = order_facts(self.rule_set, order, day, self.all_facts)
        encoded = self._encode(values.order)
        out = [(-1, (kind, *[encoded[n] for n in names]), names) for kind, names in self.order_groups]
        if self.line_groups:
            for i, line in enumerate(values.lines):
                on_line = self._encode(line)
                out += [(i, (kind, *[on_line[n] for n in names]), names) for kind, names in self.line_groups]
        return out

    def _encode(self, values: Mapping[Fact, FactValue]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fact, value in values.items():
            name = self.fields[fact]
            if fact.type is FieldType.NUMBER:
                out[f"h{name}"] = value is not None
                out[name] = _representative(float(value), self.cuts.get(name, ())) if value is not None else 0.0
            elif fact.type is FieldType.BOOL:
                out[name] = bool(value)
            else:
                out[name] = "" if value is None else str(value)
        return out

    def match(self, order: Order, day: date) -> Matches:
        """Rule index -> line indices it fired on (() for order rules); RulesEvaluationError on any fault."""
        facts = self._keys(order, day)
        memo = self._memo if self.memo_enabled else {}
        fired: list[frozenset[int] | None] = [memo.get(key) for _, key, _ in facts]
        misses = [i for i, f in enumerate(fired) if f is None]
        if misses:
            found = self._durable([_fact(facts[i][1], facts[i][2]) for i in misses])
            for i, rules_fired in zip(misses, found, strict=True):
                fired[i] = rules_fired
                if self.memo_enabled:
                    if len(self._memo) >= MEMO_LIMIT:
                        self._memo.clear()  # a crude bound; the space of facts is small in practice
                    self._memo[facts[i][1]] = rules_fired
        on_order: set[int] = set()
        on_lines: dict[int, set[int]] = {}
        for (line_index, _, _), fact_fired in zip(facts, fired, strict=True):
            if line_index < 0:
                on_order |= fact_fired or frozenset()
            else:
                on_lines.setdefault(line_index, set()).update(fact_fired or ())
        matches: dict[int, list[int]] = {i: [] for i in self.always}
        matches.update({i: [] for i in on_order if i >= 0})
        for line_index in sorted(on_lines):
            for position in on_lines[line_index]:
                if position not in self.order_part or -1 - position in on_order:
                    matches.setdefault(position, []).append(line_index)
        return {i: tuple(lines) for i, lines in matches.items()}

    def _durable(self, facts: list[dict[str, Any]]) -> list[frozenset[int]]:
        """The rules each fact fires, from one durable-rules session made and deleted for this call."""
        global _current
        with _LOCK:  # retirement happens under it too, so the ruleset lives through the session
            retired = self.retired
            if not retired:
                sid = f"e{next(_IDS)}"
                batch = [{**fact, "sid": sid, "id": f"{sid}-{i}", "li": i} for i, fact in enumerate(facts)]
                run = _Run()
                _current = run
                host = _host()
                try:
                    host.assert_facts(self.name, batch)
                except Exception as e:
                    raise RulesEvaluationError(f"rule evaluation failed: {e}") from e
                finally:
                    _current = None
                    try:
                        host.delete_state(self.name, sid)
                    except Exception:
                        run.failures.append("session clean-up failed")
        if retired:  # evicted since this evaluation looked it up: its version compiles again
            return compiled(self.rule_set)._durable(facts)
        if run.failures:
            raise RulesEvaluationError("rule evaluation failed: " + "; ".join(run.failures))
        if run.seen != len(batch):
            raise RulesEvaluationError(f"rule evaluation saw {run.seen} of {len(batch)} facts")
        per_fact: list[set[int]] = [set() for _ in batch]
        for position, indices in run.matches.items():
            for i in indices:
                per_fact[i].add(position)
        return [frozenset(s) for s in per_fact]

    def describe(self) -> str:
        """The compiled view (``rules show``): each rule's durable-rules condition."""
        lines = [f"ruleset {self.name}  (version {self.rule_set.version})"]
        for fact, name in self.fields.items():
            lines.append(f"  field {name} = {fact.name} ({fact.type.value})")
        parts: dict[int, list[str]] = {}
        for kind, key, conditions in self.parts:
            position = key if key >= 0 else -1 - key
            parts.setdefault(position, []).append(json.dumps(self._when(kind, conditions), sort_keys=True))
        for rule in self.rule_set.by_precedence():
            scope = "per line" if rule.per_line else "per order"
            lines.append(f"  {rule.id}  priority {rule.priority}, {scope}, then {', '.join(rule.then.verbs())}")
            for when in parts.get(rule.position, ["always (no conditions: not sent to durable-rules)"]):
                lines.append(f"    when {when}")
        return "\n".join(lines)


def _fact(key: tuple[Any, ...], names: tuple[str, ...]) -> dict[str, Any]:
    """The fact a memo key stands for: {"k": kind, field name: value, ...}."""
    return {"k": key[0], **dict(zip(names, key[1:], strict=True))}


def _representative(value: float, cuts: tuple[float, ...]) -> float:
    """A number that every comparison with ``cuts`` treats exactly as ``value``."""
    i = bisect.bisect_left(cuts, value)
    if i < len(cuts) and cuts[i] == value:
        return value
    if not cuts:
        return 0.0
    if i == 0:
        return cuts[0] - 1.0
    if i == len(cuts):
        return cuts[-1] + 1.0
    return cuts[i - 1] + (cuts[i] - cuts[i - 1]) / 2.0


def _any(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return tests[0] if len(tests) == 1 else {"$or": tests}


def _all(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return tests[0] if len(tests) == 1 else {"$and": tests}


def _action(position: int) -> Callable[[Any], None]:
    """A distinct function per rule, so no rule's action can overwrite another's."""

    def fired(c: Any) -> None:
        run = _current
        if run is None:  # only possible if something ran outside an evaluation
            return
        try:
            run.matches.setdefault(position, set()).add(int(c.m["li"]))
        except Exception as e:
            run.failures.append(f"rule action {position}: {e!r}")

    return fired


def _catch_all(c: Any) -> None:
    run = _current
    if run is not None:
        run.seen += 1
