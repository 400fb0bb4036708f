"""Carrier rate tables: distance bands to zones, zones to a base and a per-pound rate.

A rate table is data (one per service level), loaded with the network (the network file's
``rate_tables``, the store's ``rate_tables`` table); the defaults below are the cost model's
(docs/cost-model.md) and serve a network that loaded none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine import limits
from engine.errors import Violations
from engine.geo import FloatArray

IntArray = npt.NDArray[np.int64]

DEFAULT_SPLIT_PENALTY = 3.00
DEFAULT_BACKORDER_PENALTY = 100.00
DEFAULT_SERVICE_LEVEL = "STANDARD"

# Orders name their service level in any case ("express"); tables are kept upper-cased so one
# lookup finds them. Letters, digits, "_" and "-": a name a carrier's rate card could print.
_SERVICE_LEVEL = re.compile(r"[A-Z0-9][A-Z0-9_-]*")


def check_service_level(v: Violations, name: str, field: str) -> None:
    """A rate table's service level: upper case, 1-128 characters of A-Z, 0-9, ``_`` and ``-``."""
    if not name:
        v.add(field, "is required")
    elif len(name) > limits.MAX_ID_LENGTH:
        v.add(field, f"is longer than {limits.MAX_ID_LENGTH} characters")
    elif not _SERVICE_LEVEL.fullmatch(name):
        v.add(field, f"must be capital letters, digits, '_' or '-' (such as 'TWO_DAY'), not {name[:40]!r}")


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
        check_service_level(v, self.service_level, "service_level")
        limits_miles = self.zone_limits_miles
        zones = len(limits_miles) + 1
        v.check(
            zones <= limits.MAX_RATE_ZONES,
            "zone_limits_miles",
            f"has {len(limits_miles)} limits ({zones} zones); at most {limits.MAX_RATE_ZONES} zones are allowed",
        )
        for i, miles in enumerate(limits_miles):
            if not (math.isfinite(miles) and 0 < miles <= limits.MAX_ZONE_LIMIT_MILES):
                v.add(f"zone_limits_miles[{i}]", f"must be greater than 0 and at most {limits.MAX_ZONE_LIMIT_MILES:g}")
            elif i and math.isfinite(limits_miles[i - 1]) and miles <= limits_miles[i - 1]:
                v.add(f"zone_limits_miles[{i}]", f"must be greater than the limit before it ({limits_miles[i - 1]:g})")
        for name, rates in (("base", self.base), ("per_lb", self.per_lb)):
            if len(rates) != zones:
                v.add(name, f"needs {zones} entries, one per zone (one more than zone_limits_miles), not {len(rates)}")
            for i, rate in enumerate(rates):
                if not (math.isfinite(rate) and 0 <= rate <= limits.MAX_MONEY):
                    v.add(f"{name}[{i}]", f"must be between 0 and {limits.MAX_MONEY:.0f}")
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


def rate_tables_in_force(stored: Sequence[RateTable]) -> dict[str, RateTable]:
    """The tables decisions use: the network's own when it has any, else the defaults.

    Never a mix: a deployment that loaded its carrier's STANDARD and TWO_DAY must not keep
    pricing EXPRESS orders at the sample rates.
    """
    if not stored:
        return dict(DEFAULT_RATE_TABLES)
    return {t.service_level: t for t in sorted(stored, key=lambda t: t.service_level)}
