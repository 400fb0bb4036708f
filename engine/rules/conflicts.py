"""Rules that work against each other: no node left to serve an order, and settings that never win.

No node left (docs/rules.md, *Validation*): a rule's requirements and exclusions take away the
last of the network's nodes that the rules firing whenever it fires leave, for the orders (or
lines) it fires on; or its own requirements and exclusions leave none. That is an **error**:
every such order is unservable, which nobody means by a requirement (to stop orders on purpose,
``hold`` them or ``exclude: {node: {}}``; neither is flagged). A rule whose exclusions alone leave
no node is a **warning** (it may be meant). Two rules whose conditions can hold together without
one implying the other (marketplace orders, and gold customers' orders) that leave no node for
the orders meeting both are a **warning**: some orders, not a whole channel, region or tier.

Never wins (a **warning**): a rule's ``objective`` mode or penalty when a higher-precedence rule
that sets it fires on every order this one fires on; its ``max_shipments`` when such a rule
always allows fewer.

Only selectors that pick the same nodes for every order are judged (references and distances
depend on the order). Comparing rules is bounded by a budget: a set too large to compare every
pair in bounded time gets a warning saying the comparison stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.model import Order
from engine.network import NetworkSnapshot
from engine.rules.findings import Finding
from engine.rules.implication import Implications, Situation, together
from engine.rules.model import PURPOSES, SOURCING, Rule, RuleSet, Selector
from engine.rules.selectors import NodeArrays, select
from engine.rules.written import describe_when, flow, selector_view

BUDGET = 100_000  # rule comparisons per check: about a second of CPU at most (10 µs each)
NAMED = 4  # rules named in one message


@dataclass(frozen=True)
class _Limits:
    """What a rule's static requirements and exclusions leave: a bit per network node."""

    rule: Rule
    situation: Situation
    allowed: int
    requires: tuple[tuple[int, Selector], ...]
    excludes: tuple[tuple[int, Selector], ...]

    @property
    def field(self) -> str:
        return f"then.require[{self.requires[0][0]}]" if self.requires else f"then.exclude[{self.excludes[0][0]}]"

    def says(self) -> str:
        parts = [f"requires {flow(selector_view(s))}" for _, s in self.requires]
        for _, s in self.excludes:
            if s.exclude is not None and s == Selector(exclude=s.exclude):  # exclude {not: X}: only X may serve
                parts.append(f"excludes all but {flow(selector_view(s.exclude))}")
            else:
                parts.append(f"excludes {flow(selector_view(s))}")
        return " and ".join(parts)


def contradictions(
    rule_set: RuleSet, snapshot: NetworkSnapshot, arrays: NodeArrays, probe: Order, never: Callable[[Rule], bool]
) -> list[Finding]:
    """``never``: rules that cannot fire (reported on their own) are left out."""
    everything = (1 << len(snapshot)) - 1
    findings: list[Finding] = []
    reported: set[frozenset[str]] = set()

    def bits(selector: Selector) -> int:
        mask = select(selector, arrays, probe, lambda _: "", None)
        return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")

    for purpose in PURPOSES:
        limits: list[_Limits] = []
        for rule in rule_set.rules:
            if purpose not in rule.applies_to or never(rule):
                continue
            requires = tuple((i, r.node) for i, r in enumerate(rule.then.requires) if r.node.static)
            excludes = tuple((i, e.node) for i, e in enumerate(rule.then.excludes) if e.node.static)
            if (not requires and not excludes) or any(bits(s) == 0 for _, s in requires):
                continue  # nothing to judge, or a requirement that picks nothing (a warning of its own)
            if any(s == Selector() for _, s in excludes):
                continue  # "exclude: {node: {}}": every node, on purpose (stops the orders it fires on)
            allowed = everything
            for _, s in requires:
                allowed &= bits(s)
            for _, s in excludes:
                allowed &= ~bits(s)
            limits.append(_Limits(rule, Situation.of(rule), allowed, requires, excludes))
        findings += _alone(limits, len(snapshot), reported)
        # A rule that leaves nothing on its own is reported above; one that allows every node changes nothing.
        judged = [x for x in limits if x.allowed not in (0, everything)]
        findings += _together(judged, len(snapshot), reported)
    return findings


def _alone(limits: Sequence[_Limits], nodes: int, reported: set[frozenset[str]]) -> list[Finding]:
    out = []
    for x in limits:
        if x.allowed != 0 or frozenset({x.rule.id}) in reported:
            continue
        reported.add(frozenset({x.rule.id}))
        when = describe_when(x.rule)
        if x.requires:
            message = f"{x.says()}: none of the network's {nodes} nodes is left for the orders it fires on ({when})"
            out.append(_finding("error", x, message))
        else:  # exclusions alone: maybe on purpose, but not said so
            message = (
                f"{x.says()}: none of the network's {nodes} nodes is left for the orders it fires on ({when}); to "
                "stop them on purpose, exclude {node: {}} (every node) or hold them"
            )
            out.append(_finding("warning", x, message))
    return out


def _together(limits: Sequence[_Limits], nodes: int, reported: set[frozenset[str]]) -> list[Finding]:
    out: list[Finding] = []
    index = Implications([x.situation for x in limits], BUDGET)
    of = {id(x.situation): x for x in limits}
    left: dict[int, int] = {}  # id(situation) -> what it and every rule always firing with it leave
    for x in limits:
        implied = [of[id(s)] for s in index.implied_by(x.situation)]
        others = (1 << nodes) - 1
        for other in implied:
            others &= other.allowed
        allowed = others & x.allowed
        left[id(x.situation)] = allowed
        names = frozenset({x.rule.id, *(o.rule.id for o in implied)})
        if others and not allowed and names not in reported:  # this rule takes away the last nodes
            reported.add(names)
            named = "; ".join(f"rule {o.rule.id} {o.says()}" for o in implied[:NAMED])
            if len(implied) > NAMED:
                named += f"; and {len(implied) - NAMED} more rules"
            out.append(
                _finding(
                    "error",
                    x,
                    f"no node can serve the orders it fires on ({describe_when(x.rule)}): it {x.says()}, and on "
                    f"every one of them {named}; none of the network's {nodes} nodes is left",
                )
            )
    # Pairs that can fire together, neither always with the other: compare what each leaves, grouped.
    groups: dict[int, list[_Limits]] = {}
    for x in limits:
        if left[id(x.situation)]:  # (left empty: reported above, or by the rule that empties it)
            groups.setdefault(left[id(x.situation)], []).append(x)
    masks = list(groups)
    for i, a_mask in enumerate(masks):
        if not index.spend(max(1, (len(masks) - i) // 50)):
            break
        for b_mask in masks[i + 1 :]:
            if a_mask & b_mask:
                continue
            for a in groups[a_mask]:
                for b in groups[b_mask]:
                    if not index.spend():
                        break
                    first, second = sorted((a, b), key=lambda x: x.rule.position)
                    names = frozenset({a.rule.id, b.rule.id})
                    if names in reported or not together(a.situation, b.situation):
                        continue
                    reported.add(names)
                    out.append(
                        _finding(
                            "warning",
                            second,
                            f"no node can serve orders that meet both its conditions ({describe_when(second.rule)}) "
                            f"and rule {first.rule.id}'s ({describe_when(first.rule)}): it {second.says()}, rule "
                            f"{first.rule.id} {first.says()} (with the rules that always fire with them, none of the "
                            f"network's {nodes} nodes is left)",
                        )
                    )
    if index.exhausted and limits:
        out.append(_stopped(limits[0].rule, "whether rules together leave orders no node to ship from"))
    return out


def overridden(rule_set: RuleSet) -> list[Finding]:
    """Objective settings and shipment limits that a higher-precedence rule always overrides."""
    rank = {rule.id: k for k, rule in enumerate(rule_set.by_precedence())}
    setters = [
        Situation.of(r)
        for r in rule_set.rules
        if SOURCING in r.applies_to
        and (r.then.objective is not None or (r.then.limit is not None and r.then.limit.max_shipments is not None))
    ]
    index = Implications(setters, BUDGET)
    out = []
    for b in setters:
        rule = b.rule
        always = [s.rule for s in index.implied_by(b)]
        if rule.then.objective is not None:
            for setting in ("mode", "split_penalty", "backorder_penalty", "late_penalty_per_day"):
                mine = getattr(rule.then.objective, setting)
                winners = [
                    a
                    for a in always
                    if a.then.objective is not None
                    and getattr(a.then.objective, setting) is not None
                    and rank[a.id] < rank[rule.id]
                ]
                if mine is not None and winners:
                    a = min(winners, key=lambda r: rank[r.id])
                    theirs = getattr(a.then.objective, setting)
                    shown = theirs.value if setting == "mode" else flow(theirs)
                    out.append(
                        Finding(
                            "warning", rule.file, rule.line, rule.id, f"then.objective.{setting}",
                            f"never takes effect: rule {a.id} (priority {a.priority}) fires on every order this rule "
                            f"fires on and its {setting} {shown} wins",
                        )
                    )  # fmt: skip
        limit = rule.then.limit
        if limit is not None and limit.max_shipments is not None:
            mine_max = limit.max_shipments

            def tighter(a: Rule, mine: int = mine_max, own: int = rank[rule.id]) -> bool:
                theirs = a.then.limit.max_shipments if a.then.limit is not None else None
                return theirs is not None and (theirs < mine or (theirs == mine and rank[a.id] < own))

            winners = [a for a in always if tighter(a)]
            if winners:
                a = min(winners, key=lambda r: (r.then.limit.max_shipments if r.then.limit else 0, rank[r.id]))
                theirs_max = a.then.limit.max_shipments if a.then.limit else None
                out.append(
                    Finding(
                        "warning", rule.file, rule.line, rule.id, "then.limit.max_shipments",
                        f"never binds: rule {a.id} fires on every order this rule fires on and allows at most "
                        f"{theirs_max} shipment(s)",
                    )
                )  # fmt: skip
    if index.exhausted and setters:
        out.append(_stopped(setters[0].rule, "which objective settings and limits other rules always override"))
    return out


def _finding(severity: str, x: _Limits, message: str) -> Finding:
    return Finding(severity, x.rule.file, x.rule.line, x.rule.id, x.field, message)


def _stopped(rule: Rule, what: str) -> Finding:
    return Finding(
        "warning", rule.file, 1, "", "rules",
        f"too many rules to compare every pair in bounded time: stopped checking {what} after {BUDGET:,} comparisons",
    )  # fmt: skip
