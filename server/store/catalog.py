"""SKU aliases and item units: the store side (inherited by SqlStore; docs/onboarding.md).

Every write checks what only the store can see (the SKUs exist, an alias already names another
SKU) inside its transaction, refuses the whole write with every bad field named, and bumps the
catalogue counter first: its row lock queues catalogue writers one behind the other, and every
worker's catalogue cache (server/api/item_cache.py) notices the change at its next check.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.catalog.aliases import AliasKind, SkuAlias, alias_problems
from engine.catalog.units import ItemUnit, units_problems
from engine.errors import FieldViolation, InvalidInputError
from server.store import rows

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")

_BUMP_CATALOGUE = "UPDATE catalogue_version SET version = version + 1 WHERE id = 1"
_UPSERT_ALIAS = (
    "INSERT INTO sku_aliases (alias, kind, sku, source, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (alias) DO UPDATE SET kind = excluded.kind, sku = excluded.sku, source = excluded.source, "
    "updated_at = excluded.updated_at"
)
_UPSERT_UNIT = (
    "INSERT INTO item_units (sku, unit, factor, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (sku, unit) DO UPDATE SET factor = excluded.factor, updated_at = excluded.updated_at"
)


def _refuse(problems: Sequence[tuple[str, str]]) -> None:
    if problems:
        raise InvalidInputError([FieldViolation(field, message) for field, message in problems])


class CatalogStoreMixin(ABC):
    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]: ...

    @abstractmethod
    def _network_changed(self, tx: Tx, what: str, ids: Sequence[str]) -> None:
        """The outbox event of a catalogue write, in its transaction (server/store/system_events.py)."""

    def _existing_skus(self, tx: Tx, skus: Sequence[str]) -> set[str]:
        if not skus:
            return set()
        predicate, params = self._in_list("sku", sorted(set(skus)))
        return {str(r[0]) for r in tx.execute(f"SELECT sku FROM items WHERE {predicate}", params)}

    # --- aliases -------------------------------------------------------------------------

    def upsert_sku_aliases(self, aliases: Sequence[SkuAlias], *, remap: bool = False, path: str = "aliases") -> None:
        """Store ``aliases`` (normalized: barcodes as GTIN-14), all or none. Refused with every
        bad field under ``path``: an unknown SKU, an alias that is a catalogue SKU, one naming two
        SKUs in the write, or one already naming another SKU (unless ``remap``)."""
        if not aliases:
            return
        now = self._ts_in(rows.utc_now())

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_CATALOGUE)
            keys = sorted({a.alias for a in aliases})
            predicate, params = self._in_list("alias", keys)
            stored = {
                str(a): str(s) for a, s in tx.execute(f"SELECT alias, sku FROM sku_aliases WHERE {predicate}", params)
            }
            catalogue = self._existing_skus(tx, [*(a.sku for a in aliases), *keys])
            _refuse(alias_problems(aliases, stored, catalogue, remap=remap, path=path))
            tx.executemany(_UPSERT_ALIAS, [(a.alias, a.kind.value, a.sku, a.source, now) for a in aliases])
            self._network_changed(tx, "sku_aliases", keys)

        self._write(work)

    def sku_aliases(self, skus: Sequence[str] = (), after: str = "", limit: int = 1000) -> list[SkuAlias]:
        """Stored aliases by alias, after ``after``; only those naming ``skus`` when given."""
        where = ["alias > ?"]
        params: list[Any] = [after]
        if skus:
            predicate, more = self._in_list("sku", sorted(set(skus)))
            where.append(predicate)
            params.extend(more)
        sql = f"SELECT kind, alias, sku, source FROM sku_aliases WHERE {' AND '.join(where)} ORDER BY alias LIMIT ?"
        found = self._read(lambda tx: tx.execute(sql, [*params, limit]))
        return [SkuAlias(AliasKind(k), str(a), str(s), str(src)) for k, a, s, src in found]

    def resolve_alias_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The SKU each stored alias among ``keys`` names (absent: no such alias)."""
        if not keys:
            return {}
        predicate, params = self._in_list("alias", sorted(set(keys)))
        found = self._read(lambda tx: tx.execute(f"SELECT alias, sku FROM sku_aliases WHERE {predicate}", params))
        return {str(a): str(s) for a, s in found}

    # --- units ---------------------------------------------------------------------------

    def upsert_item_units(self, units: Sequence[ItemUnit], path: str = "units") -> None:
        """Store ``units`` (a unit of an item replaces its earlier factor), all or none; refused
        with every bad field under ``path`` (unknown SKU, a unit twice)."""
        if not units:
            return
        now = self._ts_in(rows.utc_now())

        def work(tx: Tx) -> None:
            tx.execute(_BUMP_CATALOGUE)
            catalogue = self._existing_skus(tx, [u.sku for u in units])
            problems = units_problems(units, path)
            problems.extend(
                (f"{path}[{i}].sku", f"names unknown sku {u.sku[:40]!r}: add the item first")
                for i, u in enumerate(units)
                if u.sku not in catalogue
            )
            _refuse(problems)
            tx.executemany(_UPSERT_UNIT, [(u.sku, u.unit, u.factor, now) for u in units])
            self._network_changed(tx, "item_units", sorted({u.sku for u in units}))

        self._write(work)

    def item_units(self, skus: Sequence[str]) -> dict[str, list[ItemUnit]]:
        """The declared units (besides EACH) of each of ``skus`` that has any, by unit name."""
        if not skus:
            return {}
        predicate, params = self._in_list("sku", sorted(set(skus)))
        sql = f"SELECT sku, unit, factor FROM item_units WHERE {predicate} ORDER BY sku, unit"
        found: dict[str, list[ItemUnit]] = {}
        for sku, unit, factor in self._read(lambda tx: tx.execute(sql, params)):
            found.setdefault(str(sku), []).append(ItemUnit(str(sku), str(unit), int(factor)))
        return found
