"""A finding of the network-aware checks: an error refuses the set, a warning is reported with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str  # "error" or "warning"
    file: str
    line: int
    rule_id: str
    field: str
    message: str

    def __str__(self) -> str:
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{self.file}:{self.line}: {self.severity}:{rule} {self.field}: {self.message}"
