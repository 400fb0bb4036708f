"""GTIN check digits and the alias rules (engine/catalog), pure."""

from __future__ import annotations

import pytest

from engine.catalog.aliases import (
    AliasKind,
    SkuAlias,
    alias_problems,
    build_alias,
    lookup_keys,
    resolve,
    unresolved_problem,
)
from engine.catalog.gtin import check_digit, gtin14, gtin_problem, looks_like_gtin
from engine.errors import InvalidInputError

# Real published codes: a UPC-A (Coca-Cola 12 oz), an EAN-13, an EAN-8 and a GTIN-14 case code.
VALID = ["036000291452", "4006381333931", "96385074", "10036000291459"]


@pytest.mark.parametrize("code", VALID)
def test_valid_gtins_pass(code: str) -> None:
    assert gtin_problem(code) is None
    assert looks_like_gtin(code)


@pytest.mark.parametrize("code", VALID)
def test_every_wrong_last_digit_is_caught(code: str) -> None:
    for digit in "0123456789":
        if digit != code[-1]:
            assert "check digit" in (gtin_problem(code[:-1] + digit) or "")


def test_check_digit_of_known_bodies() -> None:
    assert check_digit("03600029145") == 2
    assert check_digit("400638133393") == 1


def test_not_gtins() -> None:
    assert "digits only" in (gtin_problem("03600029145X") or "")
    assert "8, 12, 13 or 14" in (gtin_problem("12345") or "")
    assert not looks_like_gtin("12345")
    assert not looks_like_gtin("ACC-00002")
    assert not looks_like_gtin("٠٣٦٠٠٠٢٩١٤٥٢")  # Arabic-Indic digits are digits to str.isdigit, not to a scanner


def test_lengths_are_one_number() -> None:
    assert gtin14("036000291452") == gtin14("0036000291452") == "00036000291452"


def test_barcode_alias_is_validated_and_normalized() -> None:
    alias = build_alias(AliasKind.BARCODE, "036000291452", "COKE-12")
    assert alias.alias == "00036000291452"
    with pytest.raises(InvalidInputError) as caught:
        build_alias(AliasKind.BARCODE, "036000291453", "COKE-12")
    assert caught.value.violations[0].field == "alias"
    # A channel alias may be digits with any last digit: it is not a barcode.
    assert build_alias(AliasKind.CHANNEL, "036000291453", "COKE-12").alias == "036000291453"


def test_alias_fields_are_checked() -> None:
    with pytest.raises(InvalidInputError) as caught:
        SkuAlias(AliasKind.VENDOR, "", "X\x00", "s" * 200)
    assert {v.field for v in caught.value.violations} == {"alias", "sku", "source"}


def test_resolution_order() -> None:
    catalogue = {"SKU-1", "SKU-2", "036000291452"}
    aliases = {"AMZ-1": "SKU-1", "00036000291452": "SKU-2", "00004006381333931": "never"}
    assert resolve("SKU-1", catalogue, aliases) == "SKU-1"
    assert resolve("AMZ-1", catalogue, aliases) == "SKU-1"
    # a catalogue SKU that is digits stays itself, never its barcode reading
    assert resolve("036000291452", catalogue, aliases) == "036000291452"
    assert resolve("0036000291452", catalogue, aliases) == "SKU-2"
    assert resolve("00036000291452", catalogue, aliases) == "SKU-2"
    assert resolve("AMZ-2", catalogue, aliases) is None
    assert lookup_keys("0036000291453") == ("0036000291453",)  # bad check digit: only as a plain alias


def test_unresolved_messages() -> None:
    assert "check digit" in unresolved_problem("0036000291453")
    assert "maps to no SKU" in unresolved_problem("4006381333931")
    assert "neither a SKU" in unresolved_problem("AMZ-2")


def test_alias_problems_name_each_field() -> None:
    catalogue = {"A", "B"}
    write = [
        build_alias(AliasKind.CHANNEL, "X", "A"),
        build_alias(AliasKind.CHANNEL, "X", "B"),  # the same alias for a second SKU in one write
        build_alias(AliasKind.VENDOR, "Y", "C"),  # unknown SKU
        build_alias(AliasKind.VENDOR, "B", "A"),  # shadows a catalogue SKU
        build_alias(AliasKind.VENDOR, "Z", "A"),  # already names B
        build_alias(AliasKind.CHANNEL, "X", "A"),  # a repeat of the same mapping is fine
    ]
    problems = dict(alias_problems(write, {"Z": "B"}, catalogue))
    assert set(problems) == {"aliases[1].alias", "aliases[2].sku", "aliases[3].alias", "aliases[4].alias"}
    assert "remap" in problems["aliases[4].alias"]
    assert "aliases[4].alias" not in dict(alias_problems(write, {"Z": "B"}, catalogue, remap=True))
