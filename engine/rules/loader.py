"""Rule files (YAML text) to a RuleSet, or every error found: file, line, rule id and field.

Nothing is half-loaded: a set with any error raises RuleSetError listing all of them.
The format is documented in docs/rules.md; rules/schema.json describes it for editors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from engine import limits
from engine.errors import SourcingError
from engine.model import NodeType, ObjectiveMode, control_problem
from engine.rules.evaluator import over_capacity
from engine.rules.facts import LINE_FIELDS, ORDER_FIELDS, SHIP_TO_FIELDS, date_number
from engine.rules.located import LimitError, Located, YamlError, parse
from engine.rules.model import (
    NUMERIC_OPS,
    PURPOSES,
    RETURN_VERBS,
    RETURNS,
    SOURCING,
    Condition,
    ExcludeSpec,
    Fact,
    FieldType,
    HoldSpec,
    LimitSpec,
    ObjectiveSpec,
    Op,
    PenaltySpec,
    ProtectSpec,
    RequireSpec,
    Rule,
    RuleSet,
    Scalar,
    Selector,
    Then,
)

FORMAT = "oms-sourcing/rules@1"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OPEN_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
NODE_TYPES = tuple(t.value for t in NodeType)
ID_REFERENCES = re.compile(
    r"^\$(order\.pickup_node_id|order\.attributes\.[A-Za-z0-9_.-]+|line\.attributes\.[A-Za-z0-9_.-]+)$"
)
RULE_KEYS = ("id", "why", "priority", "applies_to", "active", "scope", "when", "then")
VERBS = ("exclude", "require", "penalize", "prefer", "protect", "limit", "objective", "hold")

T = TypeVar("T")

# A rule file's name as stored and shown: a plain file name (no folders, so never a path out of
# anywhere), in POSIX's portable file-name characters, not starting with '.' or '-'.
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.ya?ml")
FILE_NAME_RULE = (
    f"must be a plain file name ending .yaml or .yml, of at most {limits.MAX_RULE_FILE_NAME} letters,"
    " digits, '.', '_' and '-' (no folders, no '..', not starting with '.' or '-')"
)


def file_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a rule file's name (FILE_NAME_RULE), or None."""
    if len(name) > limits.MAX_RULE_FILE_NAME:
        return f"is longer than {limits.MAX_RULE_FILE_NAME} characters"
    control = control_problem(name)
    if control is not None:
        return control
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        return FILE_NAME_RULE
    return None


@dataclass(frozen=True, slots=True)
class RuleError:
    file: str
    line: int
    rule_id: str
    field: str
    message: str

    def __str__(self) -> str:
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        where = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}:{rule}{where} {self.message}"


class RuleSetError(SourcingError, ValueError):
    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class RuleLimitError(RuleSetError):
    """The files break a bound of engine/limits.py, or the set would overflow durable-rules
    (capacity.py): docs/rules.md, "Limits". Loading stops at the first; the set is refused as a
    whole (INVALID_ARGUMENT), not listed among mistakes to fix."""

    def __init__(self, file: str, line: int, message: str, rule_id: str = "", field: str = "") -> None:
        super().__init__([RuleError(file, line, rule_id, field, message)])


def rule_set_version(texts: Sequence[str]) -> str:
    """The hash of the files' content, in the order given: equal content, equal version."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()[:16]


def load_rule_set(files: Sequence[tuple[str, str]]) -> RuleSet:
    """``files`` are (name, YAML text) pairs; raises RuleSetError with every error found, or
    RuleLimitError at the first bound of engine/limits.py broken (before the work grows past it)."""
    if len(files) > limits.MAX_RULE_FILES:
        name = files[limits.MAX_RULE_FILES][0]
        raise RuleLimitError(name, 1, f"more than the limit of {limits.MAX_RULE_FILES} files in one set")
    errors: list[RuleError] = []
    rules: list[Rule] = []
    currency: tuple[str, str] | None = None  # (value, file that set it)
    rates: dict[str, float] = {}
    seen: dict[str, str] = {}
    set_bytes = values = rule_count = 0
    for name, text in files:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        if size > limits.MAX_RULE_FILE_BYTES:
            raise RuleLimitError(name, 1, f"is {size:,} bytes, more than the limit of {limits.MAX_RULE_FILE_BYTES:,}")
        set_bytes += size
        if set_bytes > limits.MAX_RULE_SET_BYTES:
            raise RuleLimitError(name, 1, f"the files pass the limit of {limits.MAX_RULE_SET_BYTES:,} bytes together")
        reader = _Reader(name, errors)
        try:
            parsed = parse(text, values_before=values)
        except LimitError as e:
            raise RuleLimitError(name, e.line, e.message) from None
        except YamlError as e:
            errors.append(RuleError(name, e.line, "", "", e.message))
            continue
        values = parsed.values
        doc = parsed.root
        body = reader.document(doc)
        if body is None:
            continue
        file_currency, file_rates, rule_nodes = body
        if file_currency is not None:
            if currency is not None and currency[0] != file_currency:
                reader.error(doc, "currency", f"is {file_currency} but {currency[1]} says {currency[0]}")
            currency = currency or (file_currency, name)
        rates.update(file_rates)
        if rule_count + len(rule_nodes) > limits.MAX_RULES:
            extra = rule_nodes[limits.MAX_RULES - rule_count]
            raise RuleLimitError(name, extra.line, f"more than the limit of {limits.MAX_RULES:,} rules")
        rule_count += len(rule_nodes)
        for i, node in enumerate(rule_nodes):
            rule = reader.rule(node, f"rules[{i}]", len(rules))
            if rule is None:
                continue
            if rule.id in seen:
                reader.error(node, f"rules[{i}].id", f"duplicates rule {rule.id!r} of {seen[rule.id]}", rule.id)
                continue
            seen[rule.id] = name
            rules.append(rule)
    if len(errors) > limits.MAX_RULE_ERRORS:
        more = len(errors) - limits.MAX_RULE_ERRORS
        last = errors[limits.MAX_RULE_ERRORS]
        errors[limits.MAX_RULE_ERRORS :] = [RuleError(last.file, last.line, "", "", f"and {more:,} more errors")]
    if errors:
        raise RuleSetError(errors)
    rule_set = RuleSet(
        rules=tuple(rules),
        version=rule_set_version([text for _, text in files]),
        currency=currency[0] if currency else "USD",
        rates=rates,
        sources=tuple(name for name, _ in files),
    )
    overflow = over_capacity(rule_set)
    if overflow is not None:
        rule, message = overflow
        raise RuleLimitError(rule.file, rule.line, message, rule.id, "when")
    return rule_set


class _Reader:
    """Reads one file; every problem goes to ``errors`` and the offending part reads as None."""

    def __init__(self, file: str, errors: list[RuleError]) -> None:
        self.file = file
        self.errors = errors
        self.rule_id = ""

    def error(self, node: Located, field: str, message: str, rule_id: str | None = None) -> None:
        self.errors.append(
            RuleError(self.file, node.line, self.rule_id if rule_id is None else rule_id, field, message)
        )

    # -- shapes ---------------------------------------------------------------------------

    def mapping(self, node: Located, field: str, keys: Sequence[str] | None) -> dict[str, Located] | None:
        if not node.is_map:
            self.error(node, field, "must be a mapping (key: value)")
            return None
        value: dict[str, Located] = node.value
        if keys is not None:
            for key, child in value.items():
                if key not in keys:
                    self.error(child, _join(field, key), f"unknown key; expected one of: {', '.join(keys)}")
        return value

    def text(self, node: Located, field: str) -> str | None:
        if not isinstance(node.value, str) or not node.value:
            self.error(node, field, "must be non-empty text")
            return None
        return node.value

    def number(self, node: Located, field: str, low: float = float("-inf"), high: float = 1e9) -> float | None:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float) or not (low <= v <= high):
            self.error(node, field, f"must be a number between {low:g} and {high:g}")
            return None
        return float(v)

    def integer(self, node: Located, field: str, low: int, high: int = 1_000_000) -> int | None:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int) or not (low <= v <= high):
            self.error(node, field, f"must be a whole number between {low} and {high}")
            return None
        return v

    def boolean(self, node: Located, field: str) -> bool | None:
        if not isinstance(node.value, bool):
            self.error(node, field, "must be true or false")
            return None
        return node.value

    def day(self, node: Located, field: str) -> date | None:
        v = node.value
        if isinstance(v, date):
            return v
        if isinstance(v, str):
            try:
                return date.fromisoformat(v)
            except ValueError:
                pass
        self.error(node, field, "must be a date YYYY-MM-DD")
        return None

    def texts(self, node: Located, field: str, allowed: Sequence[str] = ()) -> tuple[str, ...] | None:
        """One text or a list of texts."""
        items = node.value if node.is_list else [node]
        out: list[str] = []
        ok = bool(items)
        if not items:
            self.error(node, field, "must not be empty")
        for i, item in enumerate(items):
            sub = f"{field}[{i}]" if node.is_list else field
            value = item.value
            if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
                self.error(item, sub, "must be non-empty text")
                ok = False
                continue
            text = str(value)
            if allowed and text not in allowed:
                self.error(item, sub, f"unknown value {text!r}; expected one of: {', '.join(allowed)}")
                ok = False
                continue
            out.append(text)
        return tuple(out) if ok else None

    def one_or_many(self, node: Located, field: str, read: Callable[[Located, str], T | None]) -> list[T]:
        items = node.value if node.is_list else [node]
        out = []
        for i, item in enumerate(items):
            value = read(item, f"{field}[{i}]" if node.is_list else field)
            if value is not None:
                out.append(value)
        return out

    # -- the document -----------------------------------------------------------------------

    def document(self, doc: Located) -> tuple[str | None, dict[str, float], list[Located]] | None:
        if doc.is_list:  # a bare list of rules
            return None, {}, doc.value
        top = self.mapping(doc, "", ("format", "currency", "rates", "rules"))
        if top is None:
            return None
        if "format" in top and top["format"].value != FORMAT:
            self.error(top["format"], "format", f"must be {FORMAT!r}")
        currency = None
        if "currency" in top:
            currency = self.text(top["currency"], "currency")
            if currency is not None and not _CURRENCY.match(currency):
                self.error(top["currency"], "currency", "must be an ISO 4217 code such as USD")
        rates: dict[str, float] = {}
        if "rates" in top:
            for code, value in (self.mapping(top["rates"], "rates", None) or {}).items():
                if not _CURRENCY.match(code):
                    self.error(value, f"rates.{code}", "must be keyed by an ISO 4217 code such as EUR")
                rate = self.number(value, f"rates.{code}", 1e-9, 1e9)
                if rate is not None:
                    rates[code] = rate
        rules = top.get("rules")
        if rules is None:
            self.error(doc, "rules", "is required (a list of rules)")
            return None
        if not rules.is_list:
            self.error(rules, "rules", "must be a list of rules")
            return None
        return currency, rates, rules.value

    def rule(self, node: Located, field: str, position: int) -> Rule | None:
        self.rule_id = ""
        fields = self.mapping(node, field, RULE_KEYS)
        if fields is None:
            return None
        before = len(self.errors)
        rule_id = self.text(fields["id"], f"{field}.id") if "id" in fields else None
        if "id" not in fields:
            self.error(node, f"{field}.id", "is required")
        elif rule_id is not None and not _ID.match(rule_id):
            self.error(fields["id"], f"{field}.id", "must be 1-128 letters, digits, '.', '_' or '-'")
        self.rule_id = rule_id or ""
        why = ""
        if "why" in fields:
            why = self.text(fields["why"], f"{field}.why") or ""
        priority = 100
        if "priority" in fields:
            priority = self.integer(fields["priority"], f"{field}.priority", -1_000_000) or 0
        conditions: list[Condition] = []
        if "active" in fields:
            conditions += self.window(fields["active"], f"{field}.active")
        for part in ("scope", "when"):
            if part in fields:
                conditions += self.when(fields[part], f"{field}.{part}")
        if len(conditions) > limits.MAX_RULE_CONDITIONS:
            raise RuleLimitError(
                self.file,
                node.line,
                f"has {len(conditions)} conditions, more than the limit of {limits.MAX_RULE_CONDITIONS}",
                self.rule_id,
                field,
            )
        then = None
        if "then" not in fields:
            self.error(node, f"{field}.then", "is required")
        else:
            then = self.then(fields["then"], f"{field}.then")
        applies_to = frozenset({SOURCING})
        if "applies_to" in fields:
            applies_to = self.purposes(fields["applies_to"], f"{field}.applies_to")
        if then is not None and RETURNS in applies_to:
            for verb in then.verbs():
                if verb not in RETURN_VERBS:
                    self.error(
                        fields["then"],
                        f"{field}.then.{verb.split('/')[0]}",
                        "does not apply to returns: a rule for returns may exclude, require, penalize or prefer"
                        " (put the rest in a rule for sourcing)",
                    )
        if len(self.errors) > before or rule_id is None or then is None:
            return None
        return Rule(rule_id, tuple(conditions), then, priority, why, self.file, node.line, position, applies_to)

    def purposes(self, node: Located, field: str) -> frozenset[str]:
        """``sourcing``, ``returns`` or a list of them: the decisions a rule shapes."""
        named = self.one_or_many(node, field, self.text)
        unknown = [name for name in named if name not in PURPOSES]
        for name in unknown:
            self.error(node, field, f"unknown value {name!r}: use {' or '.join(PURPOSES)}")
        if not named:
            self.error(node, field, f"names no decision: use {' or '.join(PURPOSES)}")
        return frozenset(name for name in named if name in PURPOSES) or frozenset({SOURCING})

    # -- when -----------------------------------------------------------------------------------

    def window(self, node: Located, field: str) -> list[Condition]:
        parts = self.mapping(node, field, ("from", "to"))
        if parts is None:
            return []
        out = []
        fact = Fact(("date", "date"), FieldType.NUMBER)
        bounds: dict[str, date] = {}
        for key, op in (("from", Op.GTE), ("to", Op.LTE)):
            if key in parts:
                day = self.day(parts[key], f"{field}.{key}")
                if day is not None:
                    bounds[key] = day
                    out.append(Condition(fact, op, (date_number(day),)))
        if "from" in bounds and "to" in bounds and bounds["to"] < bounds["from"]:
            self.error(node, field, "ends before it starts: the rule can never fire")
        if not parts:
            self.error(node, field, "needs from, to or both")
        return out

    def when(self, node: Located, field: str) -> list[Condition]:
        groups = self.mapping(node, field, ("order", "customer", "ship_to", "line", "date"))
        if groups is None:
            return []
        out: list[Condition] = []
        for group, value in groups.items():
            sub = f"{field}.{group}"
            if group not in ("order", "customer", "ship_to", "line", "date"):
                continue  # already reported as an unknown key
            if group == "date":
                fields = self.mapping(value, sub, ("from", "to", "weekday"))
                if fields is None:
                    continue
                window = {k: v for k, v in fields.items() if k in ("from", "to")}
                if window:
                    out += self.window(Located(window, value.line), sub)
                if "weekday" in fields:
                    out += self.conditions(("date", "weekday"), FieldType.TEXT, fields["weekday"], f"{sub}.weekday")
                continue
            known = {"order": ORDER_FIELDS, "line": LINE_FIELDS, "ship_to": SHIP_TO_FIELDS, "customer": None}[group]
            allowed = None if known is None else (*known, *(("attributes",) if group in ("order", "line") else ()))
            fields = self.mapping(value, sub, allowed)
            if fields is None:
                continue
            for name, spec in fields.items():
                if known is not None and name not in known and name != "attributes":
                    continue  # already reported as an unknown key
                if name == "attributes":
                    for key, attr_spec in (self.mapping(spec, f"{sub}.attributes", None) or {}).items():
                        out += self.conditions((group, "attributes", key), None, attr_spec, f"{sub}.attributes.{key}")
                elif known is None:
                    if not _OPEN_KEY.match(name):
                        self.error(spec, f"{sub}.{name}", "is not a valid field name")
                        continue
                    out += self.conditions((group, name), None, spec, f"{sub}.{name}")
                else:
                    out += self.conditions((group, name), known[name], spec, f"{sub}.{name}")
        return out

    def conditions(self, path: tuple[str, ...], type_: FieldType | None, spec: Located, field: str) -> list[Condition]:
        """``type_`` None: an open field (attributes, customer), text unless compared as a number."""
        if spec.is_map:
            ops = self.mapping(spec, field, tuple(o.value for o in Op))
            if not ops:
                if ops is not None:
                    self.error(spec, field, "needs at least one comparison")
                return []
            items = [(Op(k), v) for k, v in ops.items() if k in {o.value for o in Op}]
        elif spec.is_list:
            items = [(Op.IN, spec)]
        else:
            items = [(Op.EQ, spec)]
        out = []
        for op, value in items:
            sub = field if not spec.is_map else f"{field}.{op.value}"
            if op is Op.EXISTS:
                if type_ not in (None, FieldType.TEXT):
                    self.error(value, sub, "exists applies to text fields only")
                    continue
                flag = self.boolean(value, sub)
                if flag is not None:
                    out.append(Condition(Fact(path, FieldType.TEXT), op, (flag,)))
                continue
            fact_type = type_ or (FieldType.NUMBER if op in NUMERIC_OPS else FieldType.TEXT)
            if op in NUMERIC_OPS and fact_type is not FieldType.NUMBER:
                self.error(value, sub, f"{op.value} compares numbers; this field is {fact_type.value}")
                continue
            many = op in (Op.IN, Op.NOT_IN)
            if many and not value.is_list:
                self.error(value, sub, f"{op.value} needs a list")
                continue
            if not many and value.is_list:
                self.error(value, sub, f"{op.value} needs one value; use in for a list")
                continue
            raw = value.value if many else [value]
            if many and not raw:
                self.error(value, sub, "must not be empty")
                continue
            values = [self.scalar(item, sub, fact_type, path) for item in raw]
            if all(v is not None for v in values):
                out.append(Condition(Fact(path, fact_type), op, tuple(v for v in values if v is not None)))
        return out

    def scalar(self, node: Located, field: str, type_: FieldType, path: tuple[str, ...]) -> Scalar | None:
        v = node.value
        if type_ is FieldType.NUMBER:
            if path == ("date", "date"):
                day = self.day(node, field)
                return None if day is None else date_number(day)
            return self.number(node, field, -1e15, 1e15)
        if type_ is FieldType.BOOL:
            return self.boolean(node, field)
        if path[-1] == "weekday":
            return (self.texts(node, field, ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")) or (None,))[0]
        if isinstance(v, bool):  # YAML reads ON, OFF, YES, NO unquoted as true/false
            self.error(node, field, 'must be text; quote values such as "ON", "NO" or "YES"')
            return None
        if not isinstance(v, str | int | float):
            self.error(node, field, "must be text")
            return None
        if path[0] in ("order", "line") and path[1] != "attributes" and not isinstance(v, str):
            self.error(node, field, "must be text")
            return None
        return str(v)

    # -- then -------------------------------------------------------------------------------

    def then(self, node: Located, field: str) -> Then | None:
        verbs = self.mapping(node, field, VERBS)
        if verbs is None:
            return None
        if not verbs:
            self.error(node, field, f"needs at least one directive: {', '.join(VERBS)}")
            return None

        def get(verb: str, read: Callable[[Located, str], T | None]) -> list[T]:
            return self.one_or_many(verbs[verb], f"{field}.{verb}", read) if verb in verbs else []

        penalties = get("penalize", lambda n, f: self.penalty(n, f, 1.0)) + get(
            "prefer", lambda n, f: self.penalty(n, f, -1.0)
        )
        limits = get("limit", self.limit)
        objectives = get("objective", self.objective)
        holds = get("hold", self.hold)
        return Then(
            excludes=tuple(get("exclude", self.exclude)),
            requires=tuple(get("require", self.require)),
            penalties=tuple(penalties),
            protects=tuple(get("protect", self.protect)),
            limit=limits[0] if limits else None,
            objective=objectives[0] if objectives else None,
            hold=holds[0] if holds else None,
        )

    def node_of(self, parts: dict[str, Located], node: Located, field: str) -> Selector | None:
        if "node" not in parts:
            self.error(node, f"{field}.node", "is required (a node selector)")
            return None
        return self.selector(parts["node"], f"{field}.node")

    def exclude(self, node: Located, field: str) -> ExcludeSpec | None:
        parts = self.mapping(node, field, ("node", "reason"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        reason = self.text(parts["reason"], f"{field}.reason") if "reason" in parts else ""
        return None if selector is None or reason is None else ExcludeSpec(selector, reason)

    def require(self, node: Located, field: str) -> RequireSpec | None:
        parts = self.mapping(node, field, ("node",))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        return None if selector is None else RequireSpec(selector)

    def penalty(self, node: Located, field: str, sign: float) -> PenaltySpec | None:
        parts = self.mapping(node, field, ("node", "per_unit", "per_shipment"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        amounts = {
            k: self.number(parts[k], f"{field}.{k}", 0.0, 1e6) for k in ("per_unit", "per_shipment") if k in parts
        }
        if not amounts:
            self.error(node, field, "needs per_unit, per_shipment or both")
            return None
        if selector is None or any(v is None for v in amounts.values()):
            return None
        return PenaltySpec(
            selector, sign * (amounts.get("per_unit") or 0.0), sign * (amounts.get("per_shipment") or 0.0)
        )

    def protect(self, node: Located, field: str) -> ProtectSpec | None:
        parts = self.mapping(node, field, ("node", "units", "skus"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        units = self.integer(parts["units"], f"{field}.units", 1) if "units" in parts else None
        if "units" not in parts:
            self.error(node, f"{field}.units", "is required")
        skus = self.texts(parts["skus"], f"{field}.skus") if "skus" in parts else ()
        if selector is None or units is None or skus is None:
            return None
        return ProtectSpec(selector, units, skus)

    def limit(self, node: Located, field: str) -> LimitSpec | None:
        parts = self.mapping(node, field, ("max_shipments", "all_or_nothing", "node", "max_shipments_per_day"))
        if parts is None:
            return None
        before = len(self.errors)
        max_shipments = (
            self.integer(parts["max_shipments"], f"{field}.max_shipments", 1) if "max_shipments" in parts else None
        )
        aon = self.boolean(parts["all_or_nothing"], f"{field}.all_or_nothing") if "all_or_nothing" in parts else False
        selector = self.selector(parts["node"], f"{field}.node") if "node" in parts else None
        per_day = None
        if "max_shipments_per_day" in parts:
            per_day = self.integer(parts["max_shipments_per_day"], f"{field}.max_shipments_per_day", 0)
        if ("node" in parts) != ("max_shipments_per_day" in parts):
            self.error(node, field, "a capacity cap needs both node and max_shipments_per_day")
        if not parts:
            self.error(node, field, "needs max_shipments, all_or_nothing or a capacity cap")
        if len(self.errors) > before:
            return None
        return LimitSpec(max_shipments, bool(aon), selector, per_day)

    def objective(self, node: Located, field: str) -> ObjectiveSpec | None:
        parts = self.mapping(node, field, ("mode", "split_penalty", "backorder_penalty"))
        if parts is None:
            return None
        before = len(self.errors)
        mode = None
        if "mode" in parts:
            names = self.texts(parts["mode"], f"{field}.mode", tuple(m.value for m in ObjectiveMode))
            mode = ObjectiveMode(names[0]) if names else None
        split = (
            self.number(parts["split_penalty"], f"{field}.split_penalty", 0, 1e6) if "split_penalty" in parts else None
        )
        back = (
            self.number(parts["backorder_penalty"], f"{field}.backorder_penalty", 0, 1e6)
            if "backorder_penalty" in parts
            else None
        )
        if not parts:
            self.error(node, field, "needs mode, split_penalty or backorder_penalty")
        return None if len(self.errors) > before else ObjectiveSpec(mode, split, back)

    def hold(self, node: Located, field: str) -> HoldSpec | None:
        if isinstance(node.value, str):
            return HoldSpec(node.value) if node.value else None
        parts = self.mapping(node, field, ("reason",))
        if parts is None:
            return None
        if "reason" not in parts:
            self.error(node, f"{field}.reason", "is required")
            return None
        reason = self.text(parts["reason"], f"{field}.reason")
        return None if reason is None else HoldSpec(reason)

    def selector(self, node: Located, field: str) -> Selector | None:
        parts = self.mapping(node, field, ("type", "tag", "id", "region", "distance", "not"))
        if parts is None:
            return None
        before = len(self.errors)
        values: dict[str, Any] = {}
        for key, name, allowed in (("type", "types", NODE_TYPES), ("tag", "tags", ()), ("region", "regions", ())):
            if key in parts:
                values[name] = self.texts(parts[key], f"{field}.{key}", allowed)
        if "id" in parts:
            ids = self.texts(parts["id"], f"{field}.id")
            for i, node_id in enumerate(ids or ()):
                if node_id.startswith("$") and not ID_REFERENCES.match(node_id):
                    self.error(
                        parts["id"],
                        f"{field}.id[{i}]",
                        f"unknown reference {node_id!r}; use $order.pickup_node_id, $order.attributes.KEY"
                        " or $line.attributes.KEY",
                    )
            values["ids"] = ids
        if "distance" in parts:
            band = self.mapping(parts["distance"], f"{field}.distance", ("min_miles", "max_miles")) or {}
            for key in ("min_miles", "max_miles"):
                if key in band:
                    values[key] = self.number(band[key], f"{field}.distance.{key}", 0.0, 30_000.0)
            if not band:
                self.error(parts["distance"], f"{field}.distance", "needs min_miles, max_miles or both")
        if "not" in parts:
            values["exclude"] = self.selector(parts["not"], f"{field}.not")
        if len(self.errors) > before:
            return None
        return Selector(**values)


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
