"""What is wrong with a rule set: each error with its file, line, rule id and field, and the
exceptions that carry them (docs/errors.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import SourcingError


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
