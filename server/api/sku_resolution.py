"""What callers send as a SKU, turned into the catalogue's SKU (docs/onboarding.md, "SKU aliases").

Order lines, carts and stock updates may name an item by a channel SKU, a vendor SKU or a barcode;
this module rewrites each to the SKU it maps to, through the catalogue cache (items, aliases and
units are all cached per catalogue version), so a line that names a catalogue SKU costs one
dictionary look-up more than before. Rewriting the request itself means the order the store keeps
(and decides again later) names canonical SKUs, whatever aliases change afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.catalog.aliases import lookup_keys, resolve, unresolved_problem
from engine.catalog.gtin import looks_like_gtin
from engine.errors import FieldViolation
from engine.model import id_problem
from server.api.item_cache import ItemCache
from server.api.proto import common_pb2


@dataclass(frozen=True, slots=True)
class Translation:
    """One line whose SKU the service rewrote: what the caller sent and what it was decided as."""

    line_id: str
    requested_sku: str
    sku: str


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


def barcode_problem(value: str, resolved: dict[str, str]) -> str | None:
    """Why ``value``, which resolved to nothing, cannot stand as a SKU as it is: a barcode with a
    bad check digit, or one no alias maps. Any other unknown value is judged by its caller (an order
    line may bypass the catalogue with its own weight; stock may arrive before its item)."""
    if value in resolved or not looks_like_gtin(value):
        return None
    return unresolved_problem(value)


def resolve_order_lines(
    cache: ItemCache, msg: common_pb2.Order, path: str
) -> tuple[list[FieldViolation], list[Translation]]:
    """Rewrite ``msg``'s line SKUs to catalogue SKUs in place; violations for barcodes that name none."""
    lines = msg.lines
    if all_catalogue_skus(cache, (line.sku for line in lines)):
        return [], []
    resolved = resolve_values(cache, (line.sku for line in lines))
    violations: list[FieldViolation] = []
    translations: list[Translation] = []
    for i, line in enumerate(lines):
        value = line.sku
        sku = resolved.get(value)
        if sku is None:
            problem = barcode_problem(value, resolved)
            if problem is not None:
                violations.append(FieldViolation(f"{path}.lines[{i}].sku", problem))
        elif sku != value:
            line.sku = sku
            translations.append(Translation(line.line_id, value, sku))
    return violations, translations


def resolve_skus_in_place(
    cache: ItemCache, messages: Sequence[object], field_path: str, attribute: str = "sku"
) -> tuple[list[FieldViolation], list[Translation]]:
    """The same for a list of messages with a SKU field (cart lines, stock updates): ``field_path``
    formats with the index (``"updates[{}].sku"``)."""
    values = [getattr(m, attribute) for m in messages]
    if all_catalogue_skus(cache, values):
        return [], []
    resolved = resolve_values(cache, values)
    violations: list[FieldViolation] = []
    translations: list[Translation] = []
    for i, (message, value) in enumerate(zip(messages, values, strict=True)):
        sku = resolved.get(value)
        if sku is None:
            problem = barcode_problem(value, resolved)
            if problem is not None:
                violations.append(FieldViolation(field_path.format(i), problem))
        elif sku != value:
            setattr(message, attribute, sku)
            translations.append(Translation(str(getattr(message, "line_id", "")), value, sku))
    return violations, translations


def all_catalogue_skus(cache: ItemCache, values: Iterable[str]) -> bool:
    """Whether every value is a cached catalogue SKU: the hot path, decided without building anything."""
    return cache.all_cached(values)


def add_translations(into: Any, translations: Sequence[Translation]) -> None:
    """Append ``translations`` to a repeated LineTranslation field (Decision's, PromiseResponse's)."""
    for t in translations:
        into.add(line_id=t.line_id, requested_sku=t.requested_sku, sku=t.sku)
