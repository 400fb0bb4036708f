"""GTIN barcodes (GTIN-8, UPC-A/GTIN-12, EAN-13/GTIN-13, GTIN-14) and their check digit.

Every length is the same number zero-padded on the left (UPC-A ``036000291452`` is EAN-13
``0036000291452`` is GTIN-14 ``00036000291452``), so barcodes are compared as GTIN-14.
"""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)


def looks_like_gtin(value: str) -> bool:
    """Digits only, of a GTIN length: what a scanner sends (whether its check digit is right or not)."""
    return len(value) in GTIN_LENGTHS and value.isascii() and value.isdigit()


def check_digit(body: str) -> int:
    """The GS1 check digit of ``body`` (the digits before it): weights 3, 1, 3, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_problem(value: str) -> str | None:
    """Why ``value`` is not a GTIN (None when it is one)."""
    if not (value.isascii() and value.isdigit()):
        return f"must be a GTIN of digits only, not {value[:40]!r}"
    if len(value) not in GTIN_LENGTHS:
        return f"must be a GTIN of 8, 12, 13 or 14 digits, not {len(value)}"
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"is not a valid GTIN: its check digit is {value[-1]}, the digits before it give {expected}"
    return None


def gtin14(value: str) -> str:
    """The GTIN-14 form of a valid GTIN of any length (the form barcodes are stored and looked up in)."""
    return value.zfill(14)
