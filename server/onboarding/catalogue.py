"""SKUs and units of import rows, resolved through the store by the catalogue's own rules: a
catalogue SKU is itself; a channel SKU, vendor SKU or barcode goes through the stored aliases
(engine/catalog/aliases.py); a quantity in one of an item's units becomes base units
(engine/catalog/units.py). One store read per batch for each, not one per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine import limits
from engine.catalog.aliases import lookup_keys, resolve, unresolved_problem
from engine.catalog.gtin import looks_like_gtin
from engine.catalog.units import BASE_UNIT, base_quantity, unit_factors
from server.store.base import ImportStore

# Names exports give the base unit besides EACH; an item may still declare one as a unit of its own.
BASE_UNIT_NAMES = frozenset({BASE_UNIT, "EA", "EACHES", "PC", "PCS", "PIECE", "UNIT", "UNITS"})


class CatalogueLookup:
    def __init__(self, store: ImportStore) -> None:
        self.store = store

    def skus(self, values: Iterable[str]) -> dict[str, str]:
        """value -> the catalogue SKU it names (absent: it names none)."""
        wanted = sorted(set(values))
        known = self.store.known_ids("items", wanted) if wanted else set()
        resolved = {v: v for v in wanted if v in known}
        unknown = [v for v in wanted if v not in known]
        if unknown:
            aliases = self.store.resolve_alias_keys(sorted({k for v in unknown for k in lookup_keys(v)}))
            for value in unknown:
                sku = resolve(value, known, aliases)
                if sku is not None:
                    resolved[value] = sku
        return resolved

    def factors(self, skus: Iterable[str]) -> dict[str, dict[str, int]]:
        """sku -> its units by name (EACH included)."""
        wanted = sorted(set(skus))
        units = self.store.item_units(wanted) if wanted else {}
        return {sku: unit_factors(units.get(sku, [])) for sku in wanted}


def unknown_sku_problem(value: str) -> str:
    """A barcode says what is wrong with it (check digit, no alias); anything else is unknown."""
    return unresolved_problem(value) if looks_like_gtin(value) else f"unknown SKU {value[:60]!r}"


def in_base_units(quantity: int, unit: str, factors: Mapping[str, int]) -> tuple[int | None, str]:
    """(``quantity`` of ``unit`` in base units, "") or (None, why not): an unknown unit, or more
    than a count may hold."""
    name = unit.strip().upper()
    if not name or (name in BASE_UNIT_NAMES and name not in factors):
        return quantity, ""
    base = base_quantity(quantity, name, factors)
    if isinstance(base, str):
        return None, base
    if base > limits.MAX_INVENTORY_COUNT:
        return None, f"is {base:,} {BASE_UNIT}; at most {limits.MAX_INVENTORY_COUNT:,}"
    return base, ""
