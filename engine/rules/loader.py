"""Rule files (YAML text) to a RuleSet, or every error found: file, line, rule id and field.

Nothing is half-loaded: a set with any error raises RuleSetError listing all of them.
The format is documented in docs/rules.md; rules/schema.json describes it for editors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from engine import limits
from engine.model import control_problem
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
    Fact,
    FieldType,
    Op,
    Rule,
    RuleSet,
    Scalar,
)
from engine.rules.problems import RuleError, RuleLimitError, RuleSetError
from engine.rules.verb_reader import VerbReader

FORMAT = "oms-sourcing/rules@1"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OPEN_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
RULE_KEYS = ("id", "why", "priority", "applies_to", "active", "scope", "when", "then")

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


class _Reader(VerbReader):
    """Reads one file: its document, rules, purposes, windows and conditions."""

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
