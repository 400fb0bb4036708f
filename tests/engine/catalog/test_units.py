"""Units of measure (engine/catalog/units.py), pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.catalog.units import BASE_UNIT, ItemUnit, base_quantity, parse_quantity, unit_factors, units_problems
from engine.errors import InvalidInputError

FACTORS = unit_factors([ItemUnit("S", "INNER", 6), ItemUnit("S", "CASE", 24)])


def test_quantities_in_any_unit_come_to_base_units() -> None:
    assert FACTORS == {BASE_UNIT: 1, "INNER": 6, "CASE": 24}
    assert base_quantity(3, "", FACTORS) == 3
    assert base_quantity(3, "each", FACTORS) == 3
    assert base_quantity(2, "CASE", FACTORS) == 48
    assert base_quantity(Decimal("2.5"), "case", FACTORS) == 60
    assert base_quantity(Decimal("0.5"), "INNER", FACTORS) == 3


def test_a_quantity_that_is_not_whole_in_base_units_is_refused() -> None:
    problem = base_quantity(Decimal("2.3"), "CASE", FACTORS)
    assert isinstance(problem, str) and "55.2" in problem and "whole number" in problem
    assert isinstance(base_quantity(Decimal("1.5"), BASE_UNIT, FACTORS), str)


def test_an_unknown_unit_lists_the_known_ones() -> None:
    problem = base_quantity(1, "PALLET", FACTORS)
    assert isinstance(problem, str) and "CASE, EACH, INNER" in problem


def test_decimals_are_written_plainly() -> None:
    assert parse_quantity("2.5") == Decimal("2.5")
    assert parse_quantity("12") == Decimal(12)
    for bad in ("1e3", "-1", "2,5", "", " 2", "NaN", "1.", ".5"):
        assert parse_quantity(bad) is None, bad


@pytest.mark.parametrize(
    ("unit", "factor", "field"),
    [
        ("case", 24, "unit"),
        ("CASE", 0, "factor"),
        ("CASE", 2_000_000, "factor"),
        ("EACH", 2, "factor"),
        ("A B", 2, "unit"),
    ],
)
def test_bad_units_name_their_field(unit: str, factor: int, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        ItemUnit("S", unit, factor)
    assert [v.field for v in caught.value.violations] == [field]


def test_a_write_declares_each_unit_once() -> None:
    write = [ItemUnit("S", "CASE", 24), ItemUnit("T", "CASE", 12), ItemUnit("S", "CASE", 12)]
    assert [f for f, _ in units_problems(write)] == ["units[2].unit"]
