"""The simulator's own stock: units per (SKU, node), consumed by each decision, restocked on a schedule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from engine.availability import Availability
from engine.decision import AllocationLine
from engine.network import IntArray, NetworkSnapshot


class Stock:
    """``units[k, n]``: units of ``skus[k]`` at snapshot node ``n``. Mutable; one per simulated side."""

    def __init__(self, snapshot: NetworkSnapshot, skus: Sequence[str], units: IntArray) -> None:
        if units.shape != (len(skus), len(snapshot)):
            raise ValueError(f"units has shape {units.shape}, expected {(len(skus), len(snapshot))}")
        if (units < 0).any():
            raise ValueError("stock cannot be negative")
        self.snapshot = snapshot
        self.skus = tuple(skus)
        self.row = {sku: k for k, sku in enumerate(self.skus)}
        self.initial = units.astype(np.int64, copy=True)
        self.units = self.initial.copy()
        self._zero = np.zeros(len(snapshot), dtype=np.int64)

    @classmethod
    def from_counts(cls, snapshot: NetworkSnapshot, counts: Iterable[tuple[str, str, int]]) -> Stock:
        """From (node_id, sku, units) counts; nodes the snapshot does not know are ignored."""
        rows = [(node_id, sku, units) for node_id, sku, units in counts if node_id in snapshot.index]
        skus = sorted({sku for _, sku, _ in rows})
        row = {sku: k for k, sku in enumerate(skus)}
        units = np.zeros((len(skus), len(snapshot)), dtype=np.int64)
        for node_id, sku, count in rows:
            units[row[sku], snapshot.index[node_id]] = max(0, count)
        return cls(snapshot, skus, units)

    def copy(self) -> Stock:
        fresh = Stock(self.snapshot, self.skus, self.initial)
        fresh.units = self.units.copy()
        return fresh

    def availability(self, skus: Iterable[str]) -> Availability:
        """What may be promised now for ``skus`` (SKUs never stocked have none)."""
        wanted = tuple(dict.fromkeys(skus))
        units = np.stack([self._units_of(sku) for sku in wanted]) if wanted else np.zeros((0, len(self.snapshot)))
        return Availability(wanted, units.astype(np.int64, copy=True))

    def _units_of(self, sku: str) -> IntArray:
        k = self.row.get(sku)
        return self.units[k] if k is not None else self._zero

    def consume(self, allocations: Iterable[AllocationLine]) -> None:
        """Take allocated units out of stock; a decision never allocates more than was available."""
        for a in allocations:
            k, n = self.row[a.sku], self.snapshot.index[a.node_id]
            if self.units[k, n] < a.qty:
                raise ValueError(f"{a.node_id} has {self.units[k, n]} of {a.sku}, {a.qty} allocated")
            self.units[k, n] -= a.qty

    def restock(self) -> None:
        """Top every position back up to its starting count (stock above it is kept)."""
        np.maximum(self.units, self.initial, out=self.units)

    def total(self) -> int:
        return int(self.units.sum())
