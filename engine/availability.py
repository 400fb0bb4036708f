"""Units that may be promised, per SKU and node, as one dense matrix over the snapshot's nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.model import InventoryPosition
from engine.network import IntArray, NetworkSnapshot


@dataclass(frozen=True)
class StockLevels:
    """Units that may be promised, as three parallel columns: one entry per (SKU, node) that has any.

    The shape a store reads fastest: tens of thousands of rows for a large order, where one
    object per row would cost more than the query.
    """

    skus: Sequence[str]
    node_ids: Sequence[str]
    units: Sequence[int]

    @classmethod
    def from_positions(cls, positions: Iterable[InventoryPosition]) -> StockLevels:
        listed = list(positions)
        return cls([p.sku for p in listed], [p.node_id for p in listed], [p.available for p in listed])


@dataclass(frozen=True)
class Availability:
    """``units[k, n]``: available units of ``skus[k]`` at snapshot node ``n`` (never negative)."""

    skus: tuple[str, ...]
    units: IntArray
    row: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", {sku: k for k, sku in enumerate(self.skus)})

    @classmethod
    def from_positions(
        cls, snapshot: NetworkSnapshot, skus: Sequence[str], positions: Iterable[InventoryPosition]
    ) -> Availability:
        return cls.from_levels(snapshot, skus, StockLevels.from_positions(positions))

    @classmethod
    def from_levels(cls, snapshot: NetworkSnapshot, skus: Sequence[str], levels: StockLevels) -> Availability:
        """Levels at nodes the snapshot does not know, or for other SKUs, are ignored; negatives read as 0."""
        skus = tuple(dict.fromkeys(skus))
        row = {sku: k for k, sku in enumerate(skus)}
        index = snapshot.index
        count = len(levels.units)
        k = np.fromiter((row.get(sku, -1) for sku in levels.skus), dtype=np.int64, count=count)
        n = np.fromiter((index.get(node_id, -1) for node_id in levels.node_ids), dtype=np.int64, count=count)
        known = (k >= 0) & (n >= 0)
        units = np.zeros((len(skus), len(snapshot)), dtype=np.int64)
        # Each (SKU, node) comes once: positions are keyed by it.
        units[k[known], n[known]] = np.fromiter(levels.units, dtype=np.int64, count=count)[known]
        np.maximum(units, 0, out=units)
        return cls(skus, units)

    def for_sku(self, sku: str) -> IntArray:
        k = self.row.get(sku)
        return self.units[k] if k is not None else np.zeros(self.units.shape[1], dtype=np.int64)
