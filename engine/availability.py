"""Units that may be promised, per SKU and node, as one dense matrix over the snapshot's nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.model import InventoryPosition
from engine.network import IntArray, NetworkSnapshot


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
        """Positions at nodes the snapshot does not know, or for other SKUs, are ignored."""
        skus = tuple(dict.fromkeys(skus))
        row = {sku: k for k, sku in enumerate(skus)}
        units = np.zeros((len(skus), len(snapshot)), dtype=np.int64)
        index = snapshot.index
        for p in positions:
            k = row.get(p.sku)
            n = index.get(p.node_id)
            if k is not None and n is not None:
                units[k, n] = p.available
        return cls(skus, units)

    def for_sku(self, sku: str) -> IntArray:
        k = self.row.get(sku)
        return self.units[k] if k is not None else np.zeros(self.units.shape[1], dtype=np.int64)
