"""Units of measure: an item's units (EACH, INNER, CASE, ...), each a whole number of its base unit.

Every item has the base unit ``EACH`` (factor 1); others are declared per item (``INNER`` = 6,
``CASE`` = 24). Decisions, reservations and stock work in base units; a quantity in another
unit is converted on the way in, and one that is not a whole number of base units (2.3 cases of
12 is 27.6) is refused. Unit names are upper-cased on reading (``case`` is ``CASE``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from engine.errors import Violations
from engine.model import id_problem

BASE_UNIT = "EACH"
MAX_FACTOR = 1_000_000
MAX_UNITS_PER_ITEM = 16
_UNIT_NAME = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
# A decimal quantity as people write it: digits, an optional point and fraction, no exponent.
_DECIMAL = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")


def unit_name_problem(name: str) -> str | None:
    """Why ``name`` (already upper-cased) is not a unit name (None when it is one)."""
    if not _UNIT_NAME.match(name):
        return f"must be 1-32 capital letters, digits, '_' or '-' (such as 'CASE'), not {name[:40]!r}"
    return None


@dataclass(frozen=True, slots=True)
class ItemUnit:
    """One ``unit`` of ``sku`` holds ``factor`` base units."""

    sku: str
    unit: str
    factor: int

    def __post_init__(self) -> None:
        v = Violations()
        problem = id_problem(self.sku)
        if problem is not None:
            v.add("sku", problem)
        problem = unit_name_problem(self.unit)
        if problem is not None:
            v.add("unit", problem)
        if isinstance(self.factor, bool) or not isinstance(self.factor, int):
            v.add("factor", "must be a whole number")
        elif not 1 <= self.factor <= MAX_FACTOR:
            v.add("factor", f"must be between 1 and {MAX_FACTOR:,}")
        elif self.unit == BASE_UNIT and self.factor != 1:
            v.add("factor", f"{BASE_UNIT} is the base unit: its factor is 1")
        v.raise_if_any()


def unit_factors(units: Sequence[ItemUnit]) -> dict[str, int]:
    """An item's units by name, the base unit included."""
    factors = {BASE_UNIT: 1}
    factors.update((u.unit, u.factor) for u in units)
    return factors


def parse_quantity(text: str) -> Decimal | None:
    """A non-negative decimal written plainly (``"2.5"``, ``"12"``), or None."""
    if not _DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None


def base_quantity(quantity: int | Decimal, unit: str, factors: Mapping[str, int]) -> int | str:
    """``quantity`` of ``unit`` in base units, or why it cannot be (a message for the field).

    ``unit`` empty is the base unit; ``factors`` the item's units (``unit_factors``)."""
    name = unit.upper() or BASE_UNIT
    factor = factors.get(name)
    if factor is None:
        known = ", ".join(sorted(factors))
        return f"is not a unit of this item ({unit[:40]!r}); its units: {known}"
    base = quantity * factor
    if base != int(base):
        return (
            f"{quantity} {name} is {base} {BASE_UNIT} ({factor} a {name}), not a whole number of"
            f" {BASE_UNIT}: decisions and stock count whole base units"
        )
    return int(base)


def units_problems(units: Sequence[ItemUnit], path: str = "units") -> list[tuple[str, str]]:
    """(field, message) for a write of units: one row per (sku, unit)."""
    problems: list[tuple[str, str]] = []
    first: dict[tuple[str, str], int] = {}
    per_item: dict[str, int] = {}
    for i, u in enumerate(units):
        key = (u.sku, u.unit)
        earlier = first.setdefault(key, i)
        if earlier != i:
            problems.append((f"{path}[{i}].unit", f"repeats {u.unit} of {u.sku[:40]!r} ({path}[{earlier}])"))
        per_item[u.sku] = per_item.get(u.sku, 0) + 1
        if per_item[u.sku] == MAX_UNITS_PER_ITEM + 1:
            problems.append((f"{path}[{i}]", f"{u.sku[:40]!r} has more than {MAX_UNITS_PER_ITEM} units"))
    return problems
