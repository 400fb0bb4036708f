"""IANA time zones, always from the ``tzdata`` package pinned in the lock file.

``zoneinfo.ZoneInfo(key)`` prefers the machine's own zone database and falls back to ``tzdata``:
a key such as ``localtime`` or ``posixrules`` would then be valid on one machine and unknown on
another, and two machines could read different rules. Reading the package's own list and files
keeps both the names accepted and the answers the same everywhere, with or without a system
database. The files are data shipped with the package, read once per zone and kept.
"""

from __future__ import annotations

import functools
import importlib.resources
from zoneinfo import ZoneInfo

_ZONE_KEY_MAX = 64  # the longest IANA name is 32 characters; anything longer is not one


@functools.cache
def zone_names() -> frozenset[str]:
    """Every zone name the pinned tzdata knows (``America/Chicago``, ``UTC``, ...)."""
    text = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="ascii")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def is_time_zone(key: str) -> bool:
    return len(key) <= _ZONE_KEY_MAX and key in zone_names()


def time_zone_problem(key: str) -> str | None:
    """Why ``key`` is not a time zone (None when it is one)."""
    if is_time_zone(key):
        return None
    return f"must be an IANA time zone such as 'America/Chicago', not {key[:40]!r}"


@functools.cache
def time_zone(key: str) -> ZoneInfo:
    """The zone called ``key``; ValueError for a name tzdata does not know."""
    problem = time_zone_problem(key)
    if problem is not None:
        raise ValueError(f"time zone {problem}")
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*key.split("/"))
    with resource.open("rb") as data:
        return ZoneInfo.from_file(data, key=key)
