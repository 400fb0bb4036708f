"""What callers send as a SKU and a unit, turned into the catalogue's SKU and base units
(docs/onboarding.md, "SKU aliases" and "Units of measure").

Order lines, carts and stock updates may name an item by a channel SKU, a vendor SKU or a barcode,
and count it in one of its units (CASE, INNER); this module rewrites each message in place to the
SKU it maps to and to base units, through the catalogue cache (items, aliases and units are all
cached per catalogue version), so a line that names a cached catalogue SKU in eaches costs one
dictionary look-up more than before. Rewriting the request itself means the order the store keeps
(and decides again later) names canonical SKUs in base units, whatever changes afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import limits
from engine.catalog.aliases import lookup_keys, resolve, unresolved_problem
from engine.catalog.gtin import looks_like_gtin
from engine.catalog.units import BASE_UNIT, base_quantity, parse_quantity
from engine.errors import FieldViolation
from engine.model import id_problem
from server.api.item_cache import ItemCache
from server.api.proto import common_pb2, network_pb2


@dataclass(frozen=True, slots=True)
class Translation:
    """One line the service rewrote: what the caller sent and what it was decided as."""

    line_id: str
    requested_sku: str
    sku: str
    requested_unit: str = ""
    requested_quantity: str = ""
    qty: int = 0


def resolve_values(cache: ItemCache, values: Iterable[str]) -> dict[str, str]:
    """The SKU each of ``values`` names (itself for a catalogue SKU); absent: it names none."""
    wanted = sorted({v for v in values if id_problem(v) is None})
    if not wanted:
        return {}
    catalogue = cache.get_items(wanted)
    unknown = [v for v in wanted if v not in catalogue]
    resolved = {v: v for v in wanted if v in catalogue}
    if unknown:
        aliases = cache.aliases(sorted({k for v in unknown for k in lookup_keys(v)}))
        for value in unknown:
            sku = resolve(value, catalogue, aliases)
            if sku is not None:
                resolved[value] = sku
    return resolved


def barcode_problem(value: str, resolved: Mapping[str, str]) -> str | None:
    """Why ``value``, which resolved to nothing, cannot stand as a SKU as it is: a barcode with a
    bad check digit, or one no alias maps. Any other unknown value is judged by its caller (an order
    line may bypass the catalogue with its own weight; stock may arrive before its item)."""
    if value in resolved or not looks_like_gtin(value):
        return None
    return unresolved_problem(value)


def all_catalogue_skus(cache: ItemCache, values: Iterable[str]) -> bool:
    """Whether every value is a cached catalogue SKU: the hot path, decided without building anything."""
    return cache.all_cached(values)


def _rename(cache: ItemCache, messages: Sequence[Any], field_path: str) -> tuple[list[FieldViolation], dict[int, str]]:
    """Rewrite each message's ``sku`` to the catalogue SKU it names; the SKUs sent, by index, of
    those rewritten, and violations for barcodes that name none."""
    values = [m.sku for m in messages]
    if all_catalogue_skus(cache, values):
        return [], {}
    resolved = resolve_values(cache, values)
    violations: list[FieldViolation] = []
    renamed: dict[int, str] = {}
    for i, (message, value) in enumerate(zip(messages, values, strict=True)):
        sku = resolved.get(value)
        if sku is None:
            problem = barcode_problem(value, resolved)
            if problem is not None:
                violations.append(FieldViolation(field_path.format(i), problem))
        elif sku != value:
            message.sku = sku
            renamed[i] = value
    return violations, renamed


def _base(
    violations: list[FieldViolation],
    at: str,
    quantity_field: str,
    quantity: int | Decimal,
    unit: str,
    declared: Mapping[str, int],
) -> int | None:
    """``quantity`` of ``unit`` in base units, or None with the violation recorded under ``at``."""
    known = {BASE_UNIT: 1, **declared}
    found = base_quantity(quantity, unit, known)
    if isinstance(found, str):
        field = "unit" if (unit.upper() or BASE_UNIT) not in known else quantity_field
        violations.append(FieldViolation(f"{at}.{field}", found))
        return None
    return found


def resolve_order_lines(
    cache: ItemCache, msg: common_pb2.Order, path: str
) -> tuple[list[FieldViolation], list[Translation]]:
    """Rewrite ``msg``'s lines in place to catalogue SKUs and base units; violations for barcodes
    that name no SKU, units the item does not have and quantities that are no whole number of
    base units."""
    lines = msg.lines
    if not any(line.unit or line.quantity for line in lines) and all_catalogue_skus(cache, (x.sku for x in lines)):
        return [], []  # the hot path: catalogue SKUs in eaches
    violations, renamed = _rename(cache, lines, f"{path}.lines[{{}}].sku")
    in_units = sorted({line.sku for line in lines if line.unit or line.quantity})
    factors = cache.unit_factors(in_units) if in_units else {}
    translations: list[Translation] = []
    for i, line in enumerate(lines):
        requested_sku = renamed.get(i, line.sku)
        if not (line.unit or line.quantity):
            if i in renamed:
                translations.append(Translation(line.line_id, requested_sku, line.sku, "", str(line.qty), line.qty))
            continue
        at = f"{path}.lines[{i}]"
        field = "quantity" if line.quantity else "qty"
        unit, sent = line.unit, line.quantity or str(line.qty)
        quantity: int | Decimal = line.qty
        if line.quantity:
            if line.qty:
                violations.append(FieldViolation(f"{at}.quantity", "send qty or quantity, not both"))
                continue
            parsed = parse_quantity(line.quantity)
            if parsed is not None:
                quantity = parsed
            else:
                violations.append(
                    FieldViolation(f"{at}.quantity", f"must be a decimal such as '2.5', not {line.quantity[:40]!r}")
                )
                continue
        base = _base(violations, at, field, quantity, unit, factors.get(line.sku, {}))
        if base is None:
            continue
        if base > limits.MAX_QTY_PER_LINE:
            violations.append(
                FieldViolation(
                    f"{at}.{field}", f"is {base:,} {BASE_UNIT}; a line orders at most {limits.MAX_QTY_PER_LINE:,}"
                )
            )
            continue
        line.qty, line.unit, line.quantity = base, "", ""
        translations.append(Translation(line.line_id, requested_sku, line.sku, unit, sent, base))
    return violations, translations


def resolve_cart_lines(cache: ItemCache, lines: Sequence[Any]) -> tuple[list[FieldViolation], list[Translation]]:
    """Promise's cart lines (``line_id``, ``sku``, ``qty``, ``unit``) rewritten in place, as order lines are."""
    if not any(line.unit for line in lines) and all_catalogue_skus(cache, (x.sku for x in lines)):
        return [], []
    violations, renamed = _rename(cache, lines, "lines[{}].sku")
    in_units = sorted({line.sku for line in lines if line.unit})
    factors = cache.unit_factors(in_units) if in_units else {}
    translations: list[Translation] = []
    for i, line in enumerate(lines):
        requested_sku, unit, sent = renamed.get(i, line.sku), line.unit, line.qty
        if unit:
            base = _base(violations, f"lines[{i}]", "qty", sent, unit, factors.get(line.sku, {}))
            if base is None:
                continue
            line.qty, line.unit = base, ""
        if unit or i in renamed:
            translations.append(Translation(line.line_id, requested_sku, line.sku, unit, str(sent), line.qty))
    return violations, translations


def resolve_inventory_updates(cache: ItemCache, updates: Sequence[network_pb2.InventoryUpdate]) -> list[FieldViolation]:
    """Stock updates rewritten in place to catalogue SKUs and base units (counts and deltas)."""
    if not any(u.unit for u in updates) and all_catalogue_skus(cache, (u.sku for u in updates)):
        return []
    violations, _ = _rename(cache, updates, "updates[{}].sku")
    in_units = sorted({u.sku for u in updates if u.unit})
    factors = cache.unit_factors(in_units) if in_units else {}
    for i, update in enumerate(updates):
        kind = update.WhichOneof("change")
        if not update.unit or kind is None:  # no change at all is the conversion's violation
            continue
        field = "count.count" if kind == "count" else "delta"
        sent = update.count.count if kind == "count" else update.delta
        base = _base(violations, f"updates[{i}]", field, sent, update.unit, factors.get(update.sku, {}))
        if base is None:
            continue
        if abs(base) > limits.MAX_INVENTORY_COUNT:
            violations.append(
                FieldViolation(
                    f"updates[{i}].{field}", f"is {base:,} {BASE_UNIT}; at most {limits.MAX_INVENTORY_COUNT:,}"
                )
            )
            continue
        if kind == "count":
            update.count.count = base
        else:
            update.delta = base
        update.unit = ""
    return violations


def add_translations(into: Any, translations: Sequence[Translation]) -> None:
    """Append ``translations`` to a repeated LineTranslation field (Decision's, PromiseResponse's)."""
    for t in translations:
        into.add(
            line_id=t.line_id,
            requested_sku=t.requested_sku,
            sku=t.sku,
            requested_unit=t.requested_unit,
            requested_quantity=t.requested_quantity,
            qty=t.qty,
        )
