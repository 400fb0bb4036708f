"""The root of the one exception hierarchy (docs/errors.md), and the field violations it carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field: a dotted path such as ``lines[2].qty`` and what is wrong with it."""

    field: str
    description: str


class SourcingError(Exception):
    """Base of every error the product raises on purpose (engine and server): docs/errors.md lists them."""


class InvalidInputError(SourcingError, ValueError):
    """Input that breaks a documented bound; carries every violation found, not just the first."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        self.violations: tuple[FieldViolation, ...] = (
            (violations,) if isinstance(violations, FieldViolation) else tuple(violations)
        )
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))

    def prefixed(self, prefix: str) -> InvalidInputError:
        """The same violations with their field paths placed under ``prefix``."""
        return InvalidInputError(
            [FieldViolation(f"{prefix}.{v.field}" if v.field else prefix, v.description) for v in self.violations]
        )


class ReservationConflict(SourcingError):
    """A conditional reservation found less stock, or an order fewer holds, than the decision
    assumed (a lost race).

    Raised inside the write transaction, which rolls back; the caller decides again.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class Violations:
    """Collects violations while a constructor checks every field, then raises them together."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self._items.append(FieldViolation(field, description))

    def add(self, field: str, description: str) -> None:
        self._items.append(FieldViolation(field, description))

    def extend(self, error: InvalidInputError, prefix: str = "") -> None:
        self._items.extend((error.prefixed(prefix) if prefix else error).violations)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise InvalidInputError(self._items)
