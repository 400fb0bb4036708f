"""SKU aliases (and item units) between protobuf and the engine's catalogue types, every field checked."""

from __future__ import annotations

from collections.abc import Sequence

from engine import limits
from engine.catalog.aliases import AliasKind, SkuAlias, build_alias
from engine.catalog.units import ItemUnit, units_problems
from server.api import convert
from server.api.proto import network_pb2

ALIAS_KIND_FROM_PROTO: dict[int, AliasKind] = {
    network_pb2.SKU_ALIAS_KIND_CHANNEL: AliasKind.CHANNEL,
    network_pb2.SKU_ALIAS_KIND_VENDOR: AliasKind.VENDOR,
    network_pb2.SKU_ALIAS_KIND_BARCODE: AliasKind.BARCODE,
}
ALIAS_KIND_TO_PROTO: dict[AliasKind, int] = {v: k for k, v in ALIAS_KIND_FROM_PROTO.items()}
MAX_ALIASES_PER_CALL = limits.MAX_ITEMS_PER_CALL
MAX_UNITS_PER_CALL = limits.MAX_ITEMS_PER_CALL


def aliases_from_proto(msgs: Sequence[network_pb2.SkuAlias], path: str = "aliases") -> list[SkuAlias]:
    """Normalized aliases (barcodes as GTIN-14); InvalidInputError naming every bad field."""
    c = convert.Collector()
    aliases: list[SkuAlias] = []
    if convert.check_count(c, path, len(msgs), 1, MAX_ALIASES_PER_CALL, "aliases"):
        for i, msg in enumerate(msgs):
            at = f"{path}[{i}]"
            kind = ALIAS_KIND_FROM_PROTO.get(msg.kind)
            if kind is None:
                c.add(f"{at}.kind", "is required (CHANNEL, VENDOR or BARCODE)")
                continue
            alias = c.build(at, lambda: build_alias(kind, msg.alias, msg.sku, msg.source))  # noqa: B023
            if alias is not None:
                aliases.append(alias)
    c.raise_if_any()
    return aliases


def alias_to_proto(alias: SkuAlias) -> network_pb2.SkuAlias:
    return network_pb2.SkuAlias(
        kind=ALIAS_KIND_TO_PROTO[alias.kind],  # type: ignore[arg-type]
        alias=alias.alias,
        sku=alias.sku,
        source=alias.source,
    )


def units_from_proto(msgs: Sequence[network_pb2.ItemUnit], path: str = "units") -> list[ItemUnit]:
    """Item units (unit names upper-cased); InvalidInputError naming every bad field."""
    c = convert.Collector()
    units: list[ItemUnit] = []
    if convert.check_count(c, path, len(msgs), 1, MAX_UNITS_PER_CALL, "units"):
        for i, msg in enumerate(msgs):
            unit = c.build(f"{path}[{i}]", lambda: ItemUnit(msg.sku, msg.unit.upper(), msg.factor))  # noqa: B023
            if unit is not None:
                units.append(unit)
        for field, problem in units_problems(units, path) if len(units) == len(msgs) else ():
            c.add(field, problem)
    c.raise_if_any()
    return units


def unit_to_proto(unit: ItemUnit) -> network_pb2.ItemUnit:
    return network_pb2.ItemUnit(sku=unit.sku, unit=unit.unit, factor=unit.factor)
