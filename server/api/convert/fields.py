"""The checks and scalar conversions every message shares: a collector of field violations, ids,
texts, attributes, money, timestamps and points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf import timestamp_pb2

from engine import limits
from engine.errors import FieldViolation, InvalidInputError
from engine.model import (
    GeoPoint,
    attribute_problems,
    id_problem,
    text_problem,
)
from server.api.proto import common_pb2

T = TypeVar("T")


MICROS_PER_UNIT = 1_000_000


# Timestamps a datetime can hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIMESTAMP_SECONDS = -62_135_596_800


_MAX_TIMESTAMP_SECONDS = 253_402_300_799


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Collector:
    """Violations gathered across a whole request, raised together at the end."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.items.append(FieldViolation(path, description))

    def check(self, ok: bool, path: str, description: str) -> None:
        if not ok:
            self.add(path, description)

    def build(self, path: str, factory: Callable[[], T]) -> T | None:
        """``factory()``, or None with its violations recorded under ``path``."""
        try:
            return factory()
        except InvalidInputError as error:
            self.items.extend(error.prefixed(path).violations if path else error.violations)
            return None

    def mark(self) -> int:
        return len(self.items)

    def clean_since(self, mark: int) -> bool:
        return len(self.items) == mark

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInputError(self.items)


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_count(c: Collector, path: str, count: int, low: int, high: int, what: str) -> bool:
    """The bound on a repeated field; False (and a violation) when it is broken."""
    if count < low:
        c.add(path, f"must have at least {low} {what}")
        return False
    if count > high:
        c.add(path, f"has {count} {what}; at most {high} are allowed in one call")
        return False
    return True


def check_id(c: Collector, path: str, value: str, *, required: bool = True) -> None:
    """An id: the engine's one definition (1-128 characters, no control characters)."""
    problem = id_problem(value, required=required)
    if problem is not None:
        c.add(path, problem)


def check_text(c: Collector, path: str, value: str, max_length: int) -> None:
    """Free text: the engine's one definition (bounded; tabs and line breaks the only controls)."""
    problem = text_problem(value, max_length)
    if problem is not None:
        c.add(path, problem)


def check_attributes(c: Collector, path: str, attributes: Mapping[str, str]) -> None:
    """The engine's one definition (engine.model.attribute_problems), named by field path."""
    for key, problem in attribute_problems(attributes):
        c.add(path if key is None else f"{path}[{key[:40]!r}]", problem)


def micros_to_units(micros: int) -> float:
    return micros / MICROS_PER_UNIT


def units_to_micros(units: float) -> int:
    # round(), not int(): 0.1 + 0.2 units must come back as 300000 micros, not 299999.
    return round(units * MICROS_PER_UNIT)


def money_from_proto(c: Collector, path: str, money: common_pb2.Money, currency: str) -> float | None:
    """Major units as a float (what the engine computes with); None when the currency is wrong."""
    if money.currency_code and money.currency_code != currency:
        c.add(join(path, "currency_code"), f"must be {currency} (the service's currency) or empty")
        return None
    value = micros_to_units(money.amount_micros)
    if not 0 <= value <= limits.MAX_MONEY:
        c.add(join(path, "amount_micros"), f"must be between 0 and {limits.MAX_MONEY:g} units")
        return None
    return value


def set_money(into: common_pb2.Money, value: float, currency: str) -> None:
    """``value`` in ``currency`` into a message's own Money field: nothing built and copied in."""
    into.currency_code = currency
    into.amount_micros = units_to_micros(value)


def money_to_proto(value: float, currency: str) -> common_pb2.Money:
    money = common_pb2.Money()
    set_money(money, value, currency)
    return money


def timestamp_from_proto(
    c: Collector, path: str, ts: timestamp_pb2.Timestamp, not_after: datetime | None = None
) -> datetime | None:
    """An aware UTC datetime (microsecond precision); None with a violation when out of range."""
    if not _MIN_TIMESTAMP_SECONDS <= ts.seconds <= _MAX_TIMESTAMP_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
        c.add(path, "is not a valid timestamp (years 1-9999, nanos 0-999999999)")
        return None
    value = _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)
    if not_after is not None and value > not_after:
        c.add(path, f"is in the future (after {not_after.isoformat()})")
        return None
    return value


def timestamp_to_proto(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def geo_from_proto(c: Collector, path: str, msg: common_pb2.GeoPoint) -> GeoPoint | None:
    return c.build(path, lambda: GeoPoint(lat=msg.lat, lon=msg.lon))


def geo_to_proto(point: GeoPoint) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=point.lat, lon=point.lon)


def ids_from_proto(c: Collector, path: str, values: Iterable[str], high: int, what: str) -> list[str]:
    ids = list(values)
    if check_count(c, path, len(ids), 0, high, what):
        for i, value in enumerate(ids):
            check_id(c, f"{path}[{i}]", value)
    return ids
