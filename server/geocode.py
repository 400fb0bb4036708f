"""Postal codes to places, from packaged tables (no network at run time).

- **US**: ZIP codes (5 digits, ZIP+4 accepted) resolve to their centroid and state (the
  ``zipcodes`` package). A few entries (PO boxes, IRS and parcel return codes) have no location
  (0, 0): they count as unknown rather than as a point off Africa.
- **CA**: postal codes resolve by their forward sortation area (the first three characters, 1,644
  of them) to its centroid and province (``server/geodata/ca_fsa.csv``, built by
  ``server/geodata/build_ca_fsa.py`` from Statistics Canada's FSA boundaries; coarse: an FSA spans
  a few city blocks in Toronto, hundreds of miles in Nunavut).
- Every other country: no table, so an address there must come with coordinates.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import zipcodes

from engine.model import GeoPoint
from engine.postal_codes import canonical_postal_code, postal_code_problem

_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
SUPPORTED_COUNTRIES = ("US", "CA")


@dataclass(frozen=True, slots=True)
class PostalPlace:
    point: GeoPoint  # the postal code's centroid (a Canadian FSA's for CA)
    state: str  # the US state or territory ("IL", "AK", "PR"), or the Canadian province ("ON")
    country: str = "US"


def geocoded(country_code: str) -> bool:
    """Whether postal codes of this country (empty: US) can be placed without coordinates."""
    return (country_code.upper() or "US") in SUPPORTED_COUNTRIES


@lru_cache(maxsize=65_536)
def postal_code_place(country_code: str, postal_code: str) -> PostalPlace | None:
    """Where a postal code is, or None when it is unknown, malformed, has no location or its
    country has no table."""
    country = country_code.upper() or "US"
    if country == "US":
        return _us_place(postal_code)
    if country == "CA":
        if postal_code_problem("CA", postal_code) is not None:
            return None
        return _canadian_fsas().get(canonical_postal_code("CA", postal_code)[:3])
    return None


def _us_place(postal_code: str) -> PostalPlace | None:
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


@lru_cache(maxsize=1)
def _canadian_fsas() -> dict[str, PostalPlace]:
    """The packaged FSA table, read once (40 KB)."""
    text = resources.files("server.geodata").joinpath("ca_fsa.csv").read_text(encoding="utf-8")
    return {
        row["fsa"]: PostalPlace(GeoPoint(float(row["lat"]), float(row["lon"])), row["province"], "CA")
        for row in csv.DictReader(text.splitlines())
    }
