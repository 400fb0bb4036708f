"""Postal codes to places, from a packaged table (no network at run time).

US ZIP codes (5 digits, ZIP+4 accepted) resolve to their centroid and state; other countries
are not covered yet and must send coordinates. A few table entries (PO boxes, IRS and parcel
return codes) have no location (0, 0): they count as unknown rather than as a point off Africa.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import zipcodes

from engine.model import GeoPoint

_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
SUPPORTED_COUNTRIES = ("US",)


@dataclass(frozen=True, slots=True)
class PostalPlace:
    point: GeoPoint  # the postal code's centroid
    state: str  # the US state or territory it is in (e.g. "IL", "AK", "PR")


@lru_cache(maxsize=65_536)
def postal_code_place(country_code: str, postal_code: str) -> PostalPlace | None:
    """Where a postal code is, or None when it is unknown, has no location or its country is not covered."""
    if (country_code or "US").upper() != "US":
        return None
    match = _US_ZIP.match(postal_code.strip())
    if match is None:
        return None
    found = zipcodes.matching(match.group(1))  # type: ignore[no-untyped-call]  # the package is untyped here
    if not found:
        return None
    lat, lon = float(found[0]["lat"]), float(found[0]["long"])
    if lat == 0.0 and lon == 0.0:
        return None
    return PostalPlace(GeoPoint(lat, lon), str(found[0]["state"]))
