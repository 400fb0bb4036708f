"""The server settings every benchmark starts its servers with, as config/*.toml ship them."""

from __future__ import annotations


def pinned_as_shipped(workers: int) -> list[str]:
    """``pin_cpus``: on for development's one process, off for production's one per core.

    One process gained 25-30% pinned; two measured the same either way (docs/decisions.md).
    """
    return ["--pin-cpus" if workers == 1 else "--no-pin-cpus"]
