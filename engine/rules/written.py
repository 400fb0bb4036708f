"""A loaded rule in the planner's own words: the keys and values of a rule file, not the compiled form.

``rule_view`` gives plain data shaped like the YAML a planner writes (id, why, priority,
applies_to, active, when, then), which ``rules show`` prints and ``rules diff`` compares field
by field (``then.protect.units: 2 -> 3``, ``when.order.channel: added WEB``). It is built from
the validated rule, so equal rules read the same whatever the spelling in the file: ``scope``
conditions read under ``when`` (they are the same conditions), a date window under ``active``,
a ``prefer`` keeps its positive amounts, and one value stays one value (``type: DC``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import yaml

from engine.rules.model import SOURCING, Condition, Op, Rule, Scalar, Selector, Then

_DATE = ("date", "date")


def rule_view(rule: Rule) -> dict[str, Any]:
    view: dict[str, Any] = {"id": rule.id}
    if rule.why:
        view["why"] = rule.why
    view["priority"] = rule.priority
    if rule.applies_to != frozenset({SOURCING}):
        view["applies_to"] = _one_or_many(sorted(rule.applies_to))
    window = [c for c in rule.conditions if c.fact.path == _DATE]
    active = _active(window)
    if active:
        view["active"] = active
    when = when_view([c for c in rule.conditions if c.fact.path != _DATE or not active])
    if when:
        view["when"] = when
    view["then"] = then_view(rule.then)
    return view


def when_view(conditions: Sequence[Condition]) -> dict[str, Any]:
    """Conditions nested by fact path (``{order: {channel: WEB}}``), several on one fact as a mapping of ops."""
    by_fact: dict[tuple[str, ...], list[Condition]] = {}
    for condition in conditions:
        by_fact.setdefault(condition.fact.path, []).append(condition)
    out: dict[str, Any] = {}
    for path, found in by_fact.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _spec(found, is_date=path == _DATE)
    return out


def describe_when(rule: Rule) -> str:
    """The rule's conditions in one line, e.g. ``order.channel MARKETPLACE``; ``every order`` without any."""
    view = rule_view(rule)
    parts = []
    if "active" in view:
        parts.append(f"active {flow(view['active'])}")
    for path, value in _leaves(view.get("when", {}), ""):
        parts.append(f"{path} {flow(value)}")
    return " and ".join(parts) or "every order"


def then_view(then: Then) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def put(verb: str, items: list[dict[str, Any]]) -> None:
        if items:
            out[verb] = items[0] if len(items) == 1 else items

    put("exclude", [{"node": selector_view(e.node), **_present(reason=e.reason or None)} for e in then.excludes])
    put("require", [{"node": selector_view(r.node)} for r in then.requires])
    for verb, sign in (("penalize", 1.0), ("prefer", -1.0)):
        put(
            verb,
            [
                {"node": selector_view(p.node), **_amounts(p.per_unit * sign, p.per_shipment * sign)}
                for p in then.penalties
                if (p.per_unit or p.per_shipment) * sign > 0
            ],
        )
    put(
        "protect",
        [
            {"node": selector_view(p.node), "units": p.units, **({"skus": _one_or_many(p.skus)} if p.skus else {})}
            for p in then.protects
        ],
    )
    if then.limit is not None:
        limit = then.limit
        out["limit"] = _present(
            max_shipments=limit.max_shipments,
            all_or_nothing=limit.all_or_nothing or None,
            node=None if limit.node is None else selector_view(limit.node),
            max_shipments_per_day=limit.max_shipments_per_day,
        )
    if then.objective is not None:
        objective = then.objective
        out["objective"] = _present(
            mode=None if objective.mode is None else objective.mode.value,
            split_penalty=_number(objective.split_penalty),
            backorder_penalty=_number(objective.backorder_penalty),
            late_penalty_per_day=_number(objective.late_penalty_per_day),
        )
    if then.hold is not None:
        out["hold"] = {"reason": then.hold.reason}
    return out


def selector_view(selector: Selector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in (("type", selector.types), ("tag", selector.tags), ("id", selector.ids)):
        if values:
            out[key] = _one_or_many(values)
    if selector.regions:
        out["region"] = _one_or_many(selector.regions)
    distance = _present(min_miles=_number(selector.min_miles), max_miles=_number(selector.max_miles))
    if distance:
        out["distance"] = distance
    if selector.exclude is not None:
        out["not"] = selector_view(selector.exclude)
    return out


# -- differences -------------------------------------------------------------------------------------


def rule_changes(old: Rule, new: Rule) -> list[str]:
    """What changed from ``old`` to ``new``, one line per field: ``then.protect.units: 2 -> 3``."""
    a, b = rule_view(old), rule_view(new)
    return _changes(a, b, "")


def _changes(old: Any, new: Any, path: str) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else key
            if key not in new:
                out.append(f"{sub}: removed {flow(old[key])}")
            elif key not in old:
                out.append(f"{sub}: added {flow(new[key])}")
            else:
                out += _changes(old[key], new[key], sub)
        return out
    if _scalars(old) and _scalars(new) and (isinstance(old, list) or isinstance(new, list)):
        a, b = _as_list(old), _as_list(new)
        added = [v for v in b if v not in a]
        removed = [v for v in a if v not in b]
        parts = [f"added {flow(_one_or_many(added))}"] if added else []
        parts += [f"removed {flow(_one_or_many(removed))}"] if removed else []
        return [f"{path}: {', '.join(parts)}"] if parts else [f"{path}: {flow(old)} -> {flow(new)}"]
    if isinstance(old, list) or isinstance(new, list):  # one or several verb entries (mappings)
        a, b = _as_list(old), _as_list(new)
        out = []
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                out.append(f"{sub}: removed {flow(a[i])}")
            elif i >= len(a):
                out.append(f"{sub}: added {flow(b[i])}")
            else:
                out += _changes(a[i], b[i], sub if len(a) > 1 or len(b) > 1 else path)
        return out
    return [f"{path}: {flow(old)} -> {flow(new)}"]


def flow(value: Any) -> str:
    """A value as YAML's flow style writes it: ``{node: {type: STORE}, units: 2}``, ``[WEB, APP]``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value if _plain(value) else json.dumps(value, ensure_ascii=False)  # JSON strings are YAML too
    return str(value)


def _plain(text: str) -> bool:
    """Whether YAML reads the text unquoted as this same text (not a number, date, bool or syntax)."""
    if not text or text.strip() != text or any(c in text for c in ":{}[],#&*!|>'\"%@`\\\n"):
        return False
    tag: str = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag == "tag:yaml.org,2002:str"


# -- helpers ------------------------------------------------------------------------------------------


def _spec(conditions: Sequence[Condition], is_date: bool) -> Any:
    def value(v: Scalar) -> Any:
        return _day(float(v)) if is_date and not isinstance(v, str | bool) else _number(v)

    if len(conditions) == 1:
        only = conditions[0]
        if only.op is Op.EQ:
            return value(only.values[0])
        if only.op is Op.IN:  # one value in a list is that value
            return _one_or_many([value(v) for v in only.values])
    ops: dict[str, Any] = {}
    for c in conditions:
        shown = [value(v) for v in c.values] if c.op in (Op.IN, Op.NOT_IN) else value(c.values[0])
        if c.op.value in ops:  # the same op twice on one fact (e.g. a window in active and in when.date)
            previous = ops[c.op.value]
            ops[c.op.value] = [*(previous if isinstance(previous, list) else [previous]), shown]
        else:
            ops[c.op.value] = shown
    return ops


def _active(window: Sequence[Condition]) -> dict[str, Any]:
    """``{from, to}`` when the date conditions are one window (at most one bound each way)."""
    ops = [c.op for c in window]
    if not window or any(op not in (Op.GTE, Op.LTE) for op in ops) or len(set(ops)) < len(ops):
        return {}
    bounds = {"from" if c.op is Op.GTE else "to": _day(float(c.values[0])) for c in window}
    return {key: bounds[key] for key in ("from", "to") if key in bounds}


def _day(number: float) -> date:
    whole = int(number)
    return date(whole // 10000, whole // 100 % 100, whole % 100)


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _amounts(per_unit: float, per_shipment: float) -> dict[str, Any]:
    return _present(per_unit=_number(per_unit) or None, per_shipment=_number(per_shipment) or None)


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _one_or_many(values: Sequence[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def _scalars(value: Any) -> bool:
    return all(not isinstance(v, dict | list) for v in _as_list(value))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _leaves(view: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """(dotted path, value) down to each field's condition (a mapping of ops stays whole)."""
    out = []
    for key, value in view.items():
        sub = f"{path}.{key}" if path else key
        if isinstance(value, dict) and not set(value) <= {o.value for o in Op}:
            out += _leaves(value, sub)
        else:
            out.append((sub, value))
    return out
