"""Postal codes to places from the packaged tables: US ZIP codes and Canadian FSAs."""

from __future__ import annotations

import csv
from importlib import resources

from server.geocode import geocoded, postal_code_place


def test_us_zip_codes_place_by_state() -> None:
    place = postal_code_place("US", "60601-1234")
    assert place is not None and place.state == "IL" and place.country == "US"
    assert postal_code_place("", "60601") == place  # no country: the US


def test_canadian_codes_place_by_their_fsa() -> None:
    toronto = postal_code_place("CA", "M5V 3L9")
    assert toronto is not None and (toronto.country, toronto.state) == ("CA", "ON")
    assert abs(toronto.point.lat - 43.65) < 0.1 and abs(toronto.point.lon + 79.37) < 0.1
    assert postal_code_place("ca", "m5v3l9") == toronto  # any case, with or without the space
    assert postal_code_place("CA", "M5V 1A1") == toronto  # one FSA, one centroid
    vancouver = postal_code_place("CA", "V6B 1A1")
    assert vancouver is not None and vancouver.state == "BC" and vancouver.point.lon < -123
    assert postal_code_place("CA", "D5V 3L9") is None  # D never begins a postal code


def test_the_fsa_table_is_canada_and_whole() -> None:
    text = resources.files("server.geodata").joinpath("ca_fsa.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 1600 and len({r["fsa"] for r in rows}) == len(rows)
    assert {r["province"] for r in rows} == {
        "AB",
        "BC",
        "MB",
        "NB",
        "NL",
        "NS",
        "NT",
        "NU",
        "ON",
        "PE",
        "QC",
        "SK",
        "YT",
    }
    for r in rows:
        assert 41.6 <= float(r["lat"]) <= 83.2 and -141.1 <= float(r["lon"]) <= -52.5, r


def test_other_countries_have_no_table() -> None:
    assert postal_code_place("DE", "10115") is None
    assert geocoded("US") and geocoded("ca") and geocoded("") and not geocoded("DE")
