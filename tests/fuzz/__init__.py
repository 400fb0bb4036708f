"""How hard the property tests search. `make test` runs each with its own budget of examples;
`make fuzz` multiplies every budget by ``OMS_FUZZ_FACTOR`` (20 there) for a longer hunt."""

from __future__ import annotations

import os

FACTOR = max(1, int(os.environ.get("OMS_FUZZ_FACTOR", "1")))


def examples(budget: int) -> int:
    """``budget`` examples in `make test`, ``budget`` times the factor under `make fuzz`."""
    return budget * FACTOR
