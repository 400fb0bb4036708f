"""Carrier rate tables: distance bands to zones, zones to a base and a per-pound rate.

A rate table is data (one per service level), loaded with the network; the
defaults below are the cost model's (docs/cost-model.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.errors import Violations
from engine.geo import FloatArray

IntArray = npt.NDArray[np.int64]

DEFAULT_SPLIT_PENALTY = 3.00
DEFAULT_BACKORDER_PENALTY = 100.00
DEFAULT_SERVICE_LEVEL = "STANDARD"


@dataclass(frozen=True)
class RateTable:
    """Zone z (1-based) covers distances up to ``zone_limits_miles[z-1]``; the last zone has no limit.

    A distance exactly on a limit belongs to the lower zone.
    """

    service_level: str
    zone_limits_miles: tuple[float, ...]
    base: tuple[float, ...]
    per_lb: tuple[float, ...]
    _limits: FloatArray = field(init=False, repr=False, compare=False)
    _base: FloatArray = field(init=False, repr=False, compare=False)
    _per_lb: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        v = Violations()
        zones = len(self.zone_limits_miles) + 1
        v.check(len(self.base) == zones, "base", f"needs {zones} entries, one per zone")
        v.check(len(self.per_lb) == zones, "per_lb", f"needs {zones} entries, one per zone")
        v.check(
            all(a < b for a, b in zip(self.zone_limits_miles, self.zone_limits_miles[1:], strict=False)),
            "zone_limits_miles",
            "must increase strictly",
        )
        v.check(all(x >= 0 for x in (*self.base, *self.per_lb)), "base", "rates must be >= 0")
        v.raise_if_any()
        # Cached as arrays: zone lookup runs on every decision.
        object.__setattr__(self, "_limits", np.asarray(self.zone_limits_miles, dtype=np.float64))
        # Indexed by the 1-based zone itself (entry 0 unused): one gather, no ``zones - 1`` per call.
        object.__setattr__(self, "_base", np.asarray((np.nan, *self.base), dtype=np.float64))
        object.__setattr__(self, "_per_lb", np.asarray((np.nan, *self.per_lb), dtype=np.float64))

    def zones(self, distances_miles: FloatArray) -> IntArray:
        """1-based zone of each distance (side="left": a distance on a limit stays in the lower zone)."""
        return np.searchsorted(self._limits, distances_miles, side="left").astype(np.int64, copy=False) + 1

    def base_for(self, zones: IntArray) -> FloatArray:
        return self._base[zones]

    def per_lb_for(self, zones: IntArray) -> FloatArray:
        return self._per_lb[zones]


STANDARD_RATES = RateTable(
    service_level="STANDARD",
    zone_limits_miles=(50, 150, 300, 600, 1000, 1400, 1800),
    base=(5.00, 5.50, 6.00, 6.80, 7.80, 8.80, 9.80, 11.00),
    per_lb=(0.30, 0.35, 0.45, 0.60, 0.80, 1.00, 1.20, 1.45),
)

# A sample express table (about 1.8x standard); real deployments load their carrier's.
EXPRESS_RATES = RateTable(
    service_level="EXPRESS",
    zone_limits_miles=STANDARD_RATES.zone_limits_miles,
    base=(9.00, 9.90, 10.80, 12.25, 14.05, 15.85, 17.65, 19.80),
    per_lb=(0.55, 0.65, 0.80, 1.10, 1.45, 1.80, 2.15, 2.60),
)

DEFAULT_RATE_TABLES: Mapping[str, RateTable] = {t.service_level: t for t in (STANDARD_RATES, EXPRESS_RATES)}
