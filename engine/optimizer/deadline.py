"""The time a decision may take, as one instant every step reads (not a limit per solver call).

The solver's time limit bounds the whole optimization: pruning, the LP relaxation and the MIP
share it, so a caller's deadline holds however the time splits between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from time import process_time  # this process's CPU, whatever clock the deadlines read

# The most a reserve is stretched by a busy machine (CpuStretch.factor).
MAX_STRETCH = 20.0


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


@dataclass(frozen=True)
class CpuStretch:
    """How much of the deadlines' clock one second of this process's CPU has taken since ``start``:
    work whose cost is known in CPU time (writing 10,000 decisions out) needs that many times
    longer on a machine shared with other work. 1 when the deadlines read CPU time."""

    clock: float
    cpu: float

    @classmethod
    def start(cls) -> CpuStretch:
        return cls(time.perf_counter(), process_time())

    def factor(self) -> float:
        cpu = process_time() - self.cpu
        if cpu <= 0.05:  # too little to measure
            return 1.0
        return min(MAX_STRETCH, max(1.0, (time.perf_counter() - self.clock) / cpu))
