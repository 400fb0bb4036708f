"""Postal codes to coordinates, from a packaged table (no network at run time).

US ZIP codes (5 digits, ZIP+4 accepted) resolve to their centroid; other
countries are not covered yet and must send coordinates.
"""

from __future__ import annotations

import re
from functools import lru_cache

import zipcodes

from engine.model import GeoPoint

_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
SUPPORTED_COUNTRIES = ("US",)


@lru_cache(maxsize=65_536)
def postal_code_point(country_code: str, postal_code: str) -> GeoPoint | None:
    """The centroid of a postal code, or None when it is unknown or its country is not covered."""
    if (country_code or "US").upper() != "US":
        return None
    match = _US_ZIP.match(postal_code.strip())
    if match is None:
        return None
    found = zipcodes.matching(match.group(1))  # type: ignore[no-untyped-call]  # the package is untyped here
    if not found:
        return None
    return GeoPoint(float(found[0]["lat"]), float(found[0]["long"]))
