"""Postal addresses by country: ISO 3166-1 country codes and each country's postal code format.

Pure (no data set, no I/O): it says whether a code is well formed for its country, never where it
is (server/geocode.py places the codes it has tables for). Formats are the national postal
operators' (as the Universal Postal Union lists them), for the US, Canada, the UK and every EU
member: a code that cannot exist is refused before it is looked up or stored. A country without
a format here takes any postal code of 1-128 characters.
"""

from __future__ import annotations

import re

# ISO 3166-1 alpha-2, officially assigned codes.
_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
    HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
    LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
    NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
    SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
COUNTRIES = frozenset(_ISO_3166_ALPHA_2.split())
EU_MEMBERS = frozenset(_EU.split())

# Country to (pattern, example). Patterns match the code as written after upper-casing and
# trimming; an optional space is allowed where the format has one.
_FORMATS: dict[str, tuple[str, str]] = {
    "US": (r"\d{5}(-?\d{4})?", "12345 or 12345-6789"),
    # Letters D, F, I, O, Q, U never appear; W and Z never lead.
    "CA": (r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", "K1A 0B1"),
    "GB": (r"(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})", "SW1A 1AA"),
    "AT": (r"\d{4}", "1010"),
    "BE": (r"\d{4}", "1000"),
    "BG": (r"\d{4}", "1000"),
    "CY": (r"\d{4}", "1010"),
    "CZ": (r"\d{3} ?\d{2}", "110 00"),
    "DE": (r"\d{5}", "10115"),
    "DK": (r"\d{4}", "1050"),
    "EE": (r"\d{5}", "10111"),
    "ES": (r"(0[1-9]|[1-4]\d|5[0-2])\d{3}", "28001"),
    "FI": (r"\d{5}", "00100"),
    "FR": (r"\d{5}", "75001"),
    "GR": (r"\d{3} ?\d{2}", "105 57"),
    "HR": (r"\d{5}", "10000"),
    "HU": (r"\d{4}", "1051"),
    "IE": (r"([AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}", "D02 X285"),  # Eircode
    "IT": (r"\d{5}", "00118"),
    "LT": (r"(LT-?)?\d{5}", "LT-01001"),
    "LU": (r"(L-?)?\d{4}", "1111"),
    "LV": (r"(LV-?)?\d{4}", "LV-1050"),
    "MT": (r"[A-Z]{3} ?\d{4}", "VLT 1117"),
    "NL": (r"[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}", "1012 AB"),
    "PL": (r"\d{2}-\d{3}", "00-950"),
    "PT": (r"\d{4}-\d{3}", "1000-001"),
    "RO": (r"\d{6}", "010011"),
    "SE": (r"\d{3} ?\d{2}", "111 22"),
    "SI": (r"(SI-?)?\d{4}", "1000"),
    "SK": (r"\d{3} ?\d{2}", "811 01"),
}
_COMPILED = {country: re.compile(pattern) for country, (pattern, _) in _FORMATS.items()}
FORMATTED_COUNTRIES = frozenset(_FORMATS)


def country_problem(code: str) -> str | None:
    """Why ``code`` (upper-cased) is not an ISO 3166-1 alpha-2 country code (None when it is)."""
    if code not in COUNTRIES:
        return f"must be an ISO 3166-1 alpha-2 country code such as 'US', 'CA' or 'DE', not {code[:40]!r}"
    return None


def postal_code_problem(country: str, postal_code: str) -> str | None:
    """Why ``postal_code`` is not one of ``country``'s (None when it is, or the country has no
    format here)."""
    pattern = _COMPILED.get(country)
    if pattern is None or pattern.fullmatch(postal_code.strip().upper()):
        return None
    return f"is not a postal code of {country} ({postal_code[:40]!r}); such as {_FORMATS[country][1]!r}"


def canonical_postal_code(country: str, postal_code: str) -> str:
    """The code as its country writes it, for look-ups: upper-cased, trimmed; a Canadian one as
    ``A1A 1A1``, a Dutch one as ``1234 AB``."""
    code = postal_code.strip().upper()
    if country == "CA" and len(code) == 6:
        return f"{code[:3]} {code[3:]}"
    if country == "NL" and len(code) == 6:
        return f"{code[:4]} {code[4:]}"
    return code
