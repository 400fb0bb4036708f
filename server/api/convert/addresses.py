"""Ship-to addresses by country: the country code and postal code checked, then placed from the
packaged tables where a country has one (docs/onboarding.md, "Addresses beyond US ZIP codes")."""

from __future__ import annotations

from engine.postal_codes import country_problem, postal_code_problem
from server.api.convert.fields import Collector, join
from server.api.proto import common_pb2
from server.geocode import PostalPlace, geocoded, postal_code_place


def country_of(address: common_pb2.PostalAddress) -> str:
    """The address's country, upper-cased; empty is the US (ZIP codes came first)."""
    return address.country_code.strip().upper() or "US"


def check_postal_address(c: Collector, path: str, address: common_pb2.PostalAddress) -> bool:
    """The country code is ISO 3166-1 and the postal code has its country's format; False (and a
    violation naming the field) otherwise. For new requests: a stored order is never re-judged."""
    if address.country_code and (problem := country_problem(address.country_code.strip().upper())) is not None:
        c.add(join(path, "country_code"), problem)
        return False
    if address.postal_code and (problem := postal_code_problem(country_of(address), address.postal_code)) is not None:
        c.add(join(path, "postal_code"), problem)
        return False
    return True


def place_address(c: Collector, path: str, address: common_pb2.PostalAddress) -> PostalPlace | None:
    """Where the address's postal code is; None with a violation when it cannot be placed: under
    ``ship_to`` (coordinates required) for a country without a table, under the postal code for an
    unknown code of a country with one. ``path`` is the request's (``order`` or empty)."""
    country = country_of(address)
    place = postal_code_place(country, address.postal_code)
    if place is not None:
        return place
    if not geocoded(country):
        c.add(
            join(path, "ship_to"),
            f"is required for a ship-to in {country[:8]}: postal codes there are not geocoded (packaged tables:"
            " US ZIP codes, Canadian postal codes by FSA); send the coordinates",
        )
    else:
        c.add(
            join(path, "ship_to_address.postal_code"),
            f"is not a known postal code of {country} ({address.postal_code[:40]!r}); send ship_to coordinates",
        )
    return None
