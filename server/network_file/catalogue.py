"""The items' cross-references in a network file: SKU aliases and units (docs/network-file.md,
"SKU aliases" and items' ``units``; docs/onboarding.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine import limits
from engine.catalog.aliases import AliasKind, SkuAlias, build_alias
from engine.catalog.units import BASE_UNIT, MAX_UNITS_PER_ITEM, ItemUnit, base_quantity, unit_factors
from engine.errors import InvalidInputError
from server.network_file.fields import _Fields, _json_type

_ALIAS_FIELDS = frozenset({"kind", "alias", "source"})


def _item_aliases(f: _Fields, sku: str, into: list[tuple[str, SkuAlias]]) -> None:
    """The item's ``aliases``, each (its path, the normalized alias) into ``into``."""
    for j, element in enumerate(f.array("aliases", required=False)):
        path = f.at(f"aliases[{j}]")
        if not isinstance(element, Mapping):
            f.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        a = _Fields(element, path, f.problems, _ALIAS_FIELDS)
        kind_name, value, source = a.string("kind"), a.string("alias"), a.string("source", default="")
        kind = AliasKind.__members__.get(kind_name) if isinstance(kind_name, str) else None
        if "kind" not in a.bad and kind is None:
            a.problem("kind", f"must be CHANNEL, VENDOR or BARCODE, not {str(kind_name)[:40]!r}")
        if not a.ok or kind is None:
            continue
        try:
            into.append((path, build_alias(kind, value, sku, source)))
        except InvalidInputError as exc:
            a.engine_problems(exc, skip=frozenset({"sku"}))  # a bad sku is the item's own problem


def _item_units(f: _Fields, sku: str, into: list[ItemUnit]) -> None:
    """The item's ``units``: an object of unit name to factor (``{"CASE": 24}``), names upper-cased."""
    value = f._get("units", "an object", required=False)
    if value is None:
        return
    if not isinstance(value, Mapping):
        f._wrong("units", "an object of unit name to factor", value)
        return
    if len(value) > MAX_UNITS_PER_ITEM:
        f.problem("units", f"has {len(value)} units; at most {MAX_UNITS_PER_ITEM} an item")
        return
    seen: dict[str, str] = {}
    for name, factor in value.items():
        path = f"units.{str(name)[:60]}"
        unit = str(name).upper()
        if unit in seen:
            f.problem(path, f"repeats {seen[unit]!r} (unit names are read upper-cased)")
            continue
        seen[unit] = str(name)
        if isinstance(factor, bool) or not isinstance(factor, int):
            f.problem(path, f"must be a whole number of {BASE_UNIT}, not {_json_type(factor)}")
            continue
        try:
            built = ItemUnit(sku or "-", unit, factor)
        except InvalidInputError as exc:
            for violation in exc.violations:
                if violation.field != "sku":  # a bad sku is the item's own problem
                    f.problem(path, violation.description)
            continue
        if unit != BASE_UNIT:
            into.append(built)


def _check_aliases(top: _Fields, items: Sequence[tuple[str, object]], aliases: Sequence[tuple[str, SkuAlias]]) -> None:
    """One alias names one SKU across the file, and no alias is an item's SKU (it would never be reached)."""
    skus = {name for name, _ in items}
    first: dict[str, tuple[str, str]] = {}
    for path, alias in aliases:
        if alias.alias in skus and alias.alias != alias.sku:
            top.problems.append((f"{path}.alias", f"is the sku of another item ({alias.alias[:60]!r})"))
        earlier = first.setdefault(alias.alias, (path, alias.sku))
        if earlier[1] != alias.sku:
            top.problems.append(
                (f"{path}.alias", f"{alias.alias[:60]!r} already names {earlier[1][:60]!r} (at {earlier[0]})")
            )


def _counted_in(f: _Fields, sku: str, on_hand: int, units: Sequence[ItemUnit]) -> int:
    """A stock row's ``on_hand`` in eaches when it names a ``unit`` (the item's, from this file)."""
    unit = f.string("unit", default="")
    if not unit or "unit" in f.bad or "on_hand" in f.bad:
        return on_hand
    base = base_quantity(on_hand, unit, unit_factors([u for u in units if u.sku == sku]))
    if isinstance(base, str):
        f.problem("unit", base)
        return on_hand
    if base > limits.MAX_INVENTORY_COUNT:
        f.problem("on_hand", f"is {base:,} {BASE_UNIT}; at most {limits.MAX_INVENTORY_COUNT:,}")
        return on_hand
    return base
