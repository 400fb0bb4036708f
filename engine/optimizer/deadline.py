"""The time a decision may take, as one instant every step reads (not a limit per solver call).

The solver's time limit bounds the whole optimization: pruning, the LP relaxation and the MIP
share it, so a caller's deadline holds however the time splits between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    at: float  # a time.perf_counter() instant

    @classmethod
    def after_ms(cls, milliseconds: int) -> Deadline:
        return cls(time.perf_counter() + milliseconds / 1000.0)

    def remaining_ms(self) -> int:
        """Whole milliseconds left, never negative."""
        return max(0, int((self.at - time.perf_counter()) * 1000.0))

    def passed(self) -> bool:
        return time.perf_counter() >= self.at
