"""Postal code formats by country (engine/postal_codes.py), pure."""

from __future__ import annotations

import pytest

from engine.postal_codes import (
    COUNTRIES,
    EU_MEMBERS,
    FORMATTED_COUNTRIES,
    canonical_postal_code,
    country_problem,
    postal_code_problem,
)

GOOD = [
    ("US", "60601"), ("US", "60601-1234"), ("CA", "K1A 0B1"), ("CA", "m5v3l9"), ("GB", "SW1A 1AA"),
    ("GB", "M1 1AE"), ("DE", "10115"), ("FR", "75001"), ("IT", "00118"), ("ES", "28001"), ("NL", "1012 AB"),
    ("NL", "1012ab"), ("BE", "1000"), ("AT", "1010"), ("PL", "00-950"), ("PT", "1000-001"), ("SE", "111 22"),
    ("SE", "11122"), ("IE", "D02 X285"), ("IE", "D6W 1234"), ("LU", "L-1111"), ("LV", "LV-1050"),
    ("LT", "LT-01001"), ("MT", "VLT 1117"), ("CZ", "110 00"), ("GR", "105 57"), ("RO", "010011"),
    ("JP", "100-0001"),  # no format here: any id
]  # fmt: skip
BAD = [
    ("US", "6060"), ("CA", "D1A 0B1"), ("CA", "W1A 0B1"), ("CA", "K1A0B"), ("CA", "M5V"), ("DE", "1011"),
    ("DE", "101155"), ("FR", "7500A"), ("ES", "53001"), ("NL", "0123 AB"), ("NL", "1012 SA"), ("NL", "1012"),
    ("PL", "00950"), ("PT", "1000"), ("BE", "10000"), ("IE", "B02 X285"), ("GB", "12345"),
]  # fmt: skip


@pytest.mark.parametrize(("country", "code"), GOOD)
def test_well_formed_codes_pass(country: str, code: str) -> None:
    assert postal_code_problem(country, code) is None


@pytest.mark.parametrize(("country", "code"), BAD)
def test_malformed_codes_name_the_country_and_an_example(country: str, code: str) -> None:
    problem = postal_code_problem(country, code)
    assert problem is not None and f"of {country}" in problem and "such as" in problem


def test_every_eu_member_has_a_format() -> None:
    assert len(EU_MEMBERS) == 27 and EU_MEMBERS <= FORMATTED_COUNTRIES <= COUNTRIES


def test_country_codes() -> None:
    assert country_problem("CA") is None and country_problem("DE") is None
    assert "ISO 3166-1" in (country_problem("XX") or "") and country_problem("USA") is not None


def test_canonical_forms_for_lookups() -> None:
    assert canonical_postal_code("CA", " m5v3l9 ") == "M5V 3L9"
    assert canonical_postal_code("NL", "1012ab") == "1012 AB"
    assert canonical_postal_code("DE", "10115") == "10115"
