"""The command line's progress bars: tqdm on an interactive stderr, silent otherwise (logs and CI
stay clean). ``load-network`` counts requests, ``import`` bytes read."""

from __future__ import annotations

import sys
from collections.abc import Callable


def progress_bar(total: int, unit: str = "req", desc: str | None = None) -> Callable[..., None]:
    """``step(n)`` advances by n; ``step(0, close=True)`` ends the bar."""
    if not sys.stderr.isatty():
        return lambda n, close=False: None
    from tqdm import tqdm

    scaled = unit == "B"  # bytes read as KB, MB
    bar = tqdm(
        total=total, unit=unit, unit_scale=scaled, unit_divisor=1024 if scaled else 1000, file=sys.stderr, desc=desc
    )

    def step(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return step
