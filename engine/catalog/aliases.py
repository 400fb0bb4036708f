"""SKU cross-references: channel SKUs, vendor SKUs and barcodes that all name one SKU.

Resolution order for a value a caller sends as a SKU (order lines, stock updates, carts):
1. a SKU of the catalogue is itself;
2. else an alias stored under exactly that value (channel or vendor SKU);
3. else, when it looks like a barcode (8, 12, 13 or 14 digits), its check digit must be right
   and its GTIN-14 form must be a stored barcode.
So a catalogue SKU is never shadowed by an alias, and an alias equal to a catalogue SKU is refused
at write time (it could never be reached). One alias maps to one SKU: a write that would map it to
two is refused.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.catalog.gtin import gtin14, gtin_problem, looks_like_gtin
from engine.errors import Violations
from engine.model import id_problem


class AliasKind(StrEnum):
    CHANNEL = "CHANNEL"  # a sales channel's SKU (a marketplace's, a storefront's)
    VENDOR = "VENDOR"  # a supplier's or a WMS/ERP's item number
    BARCODE = "BARCODE"  # a GTIN (UPC, EAN): check digit validated, stored as GTIN-14


@dataclass(frozen=True, slots=True)
class SkuAlias:
    """``alias`` names ``sku``. ``source`` says whose alias it is (a channel or vendor id); it is
    informative only: aliases share one namespace, so a value resolves without knowing its sender.
    A barcode's ``alias`` is kept in its GTIN-14 form (``normalized``)."""

    kind: AliasKind
    alias: str
    sku: str
    source: str = ""

    def __post_init__(self) -> None:
        v = Violations()
        for name in ("alias", "sku"):
            problem = id_problem(getattr(self, name))
            if problem is not None:
                v.add(name, problem)
        problem = id_problem(self.source, required=False)
        if problem is not None:
            v.add("source", problem)
        if self.kind is AliasKind.BARCODE and not v:
            problem = gtin_problem(self.alias)
            if problem is not None:
                v.add("alias", problem)
        v.raise_if_any()

    def normalized(self) -> SkuAlias:
        if self.kind is AliasKind.BARCODE and len(self.alias) != 14:
            return SkuAlias(self.kind, gtin14(self.alias), self.sku, self.source)
        return self


def lookup_keys(value: str) -> tuple[str, ...]:
    """The stored aliases ``value`` may be, in the order they are tried: itself, then its GTIN-14
    form when it looks like a barcode with a right check digit."""
    if looks_like_gtin(value) and gtin_problem(value) is None:
        key = gtin14(value)
        return (value,) if key == value else (value, key)
    return (value,)


def unresolved_problem(value: str) -> str:
    """What to tell a caller who sent ``value`` as a SKU that is neither a SKU nor a known alias."""
    if looks_like_gtin(value):
        problem = gtin_problem(value)
        if problem is not None:
            return problem
        return f"is a barcode ({value}) that maps to no SKU: map it with UpsertSkuAliases or the network file"
    return f"is neither a SKU of the catalogue nor a known alias ({value[:40]!r})"


def resolve(value: str, catalogue: Container[str], aliases: Mapping[str, str]) -> str | None:
    """The SKU ``value`` names, or None. ``aliases`` maps stored alias keys to SKUs (it need only
    hold the keys ``lookup_keys(value)`` gives)."""
    if value in catalogue:
        return value
    for key in lookup_keys(value):
        sku = aliases.get(key)
        if sku is not None:
            return sku
    return None


def alias_problems(
    aliases: Sequence[SkuAlias],
    stored: Mapping[str, str],
    catalogue: Container[str],
    *,
    remap: bool = False,
    path: str = "aliases",
) -> list[tuple[str, str]]:
    """(field path, message) for every alias in a write that cannot be stored.

    ``aliases`` normalized; ``stored`` the aliases already stored under the same keys (alias to
    SKU); ``catalogue`` the SKUs that exist. An alias naming two SKUs in one write is refused, and
    one already naming another SKU unless ``remap``."""
    problems: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for i, a in enumerate(aliases):
        at = f"{path}[{i}]"
        if a.sku not in catalogue:
            problems.append((f"{at}.sku", f"names unknown sku {a.sku[:40]!r}: add the item first"))
        if a.alias in catalogue and a.alias != a.sku:
            problems.append((f"{at}.alias", f"is the catalogue SKU {a.alias[:40]!r} itself: an alias cannot shadow it"))
        earlier = first.setdefault(a.alias, i)
        if earlier != i and aliases[earlier].sku != a.sku:
            problems.append(
                (
                    f"{at}.alias",
                    f"maps {a.alias[:40]!r} to {a.sku[:40]!r}, but {path}[{earlier}] maps it to"
                    f" {aliases[earlier].sku[:40]!r}: an alias names one SKU",
                )
            )
        held = stored.get(a.alias)
        if held is not None and held != a.sku and not remap:
            problems.append(
                (
                    f"{at}.alias",
                    f"already maps {a.alias[:40]!r} to {held[:40]!r}: an alias names one SKU (set remap to move it)",
                )
            )
    return problems


def build_alias(kind: AliasKind, alias: str, sku: str, source: str = "") -> SkuAlias:
    """A normalized alias, or InvalidInputError naming its bad fields."""
    return SkuAlias(kind, alias, sku, source).normalized()
