"""Reading a rule file's YAML values with their lines: typed fields, lists, dates and mappings
with known keys; every problem recorded under its field, the offending part read as None."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from engine.rules.located import Located
from engine.rules.problems import RuleError

T = TypeVar("T")


class FieldReader:
    """Reads one file's values; every problem goes to ``errors`` and the offending part reads as None."""

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
                    self.error(child, join_field(field, key), f"unknown key; expected one of: {', '.join(keys)}")
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


def join_field(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
