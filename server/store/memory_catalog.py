"""SKU aliases and item units in memory: the catalogue part of MemoryStore (server/store/catalog.py
is the SQL one; both refuse by the same engine rules, so they pass the same contract)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from engine.catalog.aliases import SkuAlias, alias_problems
from engine.catalog.units import ItemUnit, units_problems
from engine.errors import FieldViolation, InvalidInputError
from engine.model import Item


def _refuse(problems: Sequence[tuple[str, str]]) -> None:
    if problems:
        raise InvalidInputError([FieldViolation(field, message) for field, message in problems])


class MemoryCatalogMixin(ABC):
    """Needs the store's lock and its catalogue: the items, and the counter every change moves."""

    _net_lock: threading.RLock

    @abstractmethod
    def _catalogue_items(self) -> Mapping[str, Item]: ...

    @abstractmethod
    def _bump_items_version(self) -> None: ...

    def _catalogue_extras(self) -> tuple[dict[str, SkuAlias], dict[str, dict[str, int]]]:
        if not hasattr(self, "_sku_aliases"):
            self._sku_aliases: dict[str, SkuAlias] = {}
            self._item_units: dict[str, dict[str, int]] = {}
        return self._sku_aliases, self._item_units

    def upsert_sku_aliases(self, aliases: Sequence[SkuAlias], *, remap: bool = False, path: str = "aliases") -> None:
        if not aliases:
            return
        with self._net_lock:
            stored, _ = self._catalogue_extras()
            held = {a.alias: stored[a.alias].sku for a in aliases if a.alias in stored}
            _refuse(alias_problems(aliases, held, self._catalogue_items(), remap=remap, path=path))
            stored.update((a.alias, a) for a in aliases)
            self._bump_items_version()

    def sku_aliases(self, skus: Sequence[str] = (), after: str = "", limit: int = 1000) -> list[SkuAlias]:
        with self._net_lock:
            stored, _ = self._catalogue_extras()
            wanted = set(skus)
            found = [a for key, a in sorted(stored.items()) if key > after and (not wanted or a.sku in wanted)]
            return found[:limit]

    def resolve_alias_keys(self, keys: Sequence[str]) -> dict[str, str]:
        with self._net_lock:
            stored, _ = self._catalogue_extras()
            return {k: stored[k].sku for k in keys if k in stored}

    def upsert_item_units(self, units: Sequence[ItemUnit], path: str = "units") -> None:
        if not units:
            return
        with self._net_lock:
            _, declared = self._catalogue_extras()
            problems = units_problems(units, path)
            problems.extend(
                (f"{path}[{i}].sku", f"names unknown sku {u.sku[:40]!r}: add the item first")
                for i, u in enumerate(units)
                if u.sku not in self._catalogue_items()
            )
            _refuse(problems)
            for u in units:
                declared.setdefault(u.sku, {})[u.unit] = u.factor
            self._bump_items_version()

    def item_units(self, skus: Sequence[str]) -> dict[str, list[ItemUnit]]:
        with self._net_lock:
            _, declared = self._catalogue_extras()
            return {
                s: [ItemUnit(s, unit, factor) for unit, factor in sorted(declared[s].items())]
                for s in sorted(set(skus))
                if declared.get(s)
            }
