"""Reading a network file's JSON values: typed fields with their paths, problems recorded where
they are found, arrays of objects with duplicate ids caught."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from engine import limits
from engine.errors import InvalidInputError
from engine.promise.model import (
    Weekday,
    parse_weekday,
)

Problem = tuple[str, str]  # (json path, what is wrong there)


ROOT = "$"  # the path of problems with the document as a whole


_CURRENCY = re.compile(r"[A-Z]{3}")


# ISO 3166-1 country or 3166-2 subdivision: rules select on region, so a typo must not pass silently.
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


_T = TypeVar("_T")


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers keys given twice (json.loads keeps the last one silently)."""

    duplicate_keys: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            repeated: list[str] = []
            for key, _ in pairs:
                if key in seen:
                    repeated.append(key)
                seen.add(key)
            obj.duplicate_keys = tuple(repeated)
        return obj


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _as_float(value: int | float | Decimal) -> float:
    """The number as a float; an integer past float's range is infinite (as 1e400 reads), which
    the engine's checks refuse as not finite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


_MONEY = "a number or a decimal string"


def _money_value(value: object) -> tuple[float, str]:
    """(the amount, "") or (0.0, what is wrong with it): money is a JSON number or a decimal string."""
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            return 0.0, f'must be a decimal number such as "4.25", not {value[:40]!r}'
        return float(Decimal(value)), ""
    if not _is_number(value):
        return 0.0, f"must be {_MONEY}, not {_json_type(value)}"
    return _as_float(value), ""  # type: ignore[arg-type]


class _Fields:
    """Reads one JSON object's fields, records problems under their paths and remembers bad fields.

    A bad field yields a placeholder so the engine constructor can still run and report the
    object's other problems; ``engine_problems`` then drops what it says about bad fields.
    """

    def __init__(self, obj: Mapping[str, Any], path: str, problems: list[Problem], known: frozenset[str]) -> None:
        self.obj = obj
        self.path = path
        self.problems = problems
        self.bad: set[str] = set()
        self._start = len(problems)
        for key in getattr(obj, "duplicate_keys", ()):
            self.problem(key, "appears more than once in this object")
        for key in obj:
            if key not in known:
                shown = key if len(key) <= 60 else f"{key[:60]}..."  # a key can be any length
                self.problem(shown, "is not a field of this format")

    @property
    def ok(self) -> bool:
        """Whether this object has had no problem recorded so far."""
        return len(self.problems) == self._start

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append((self.at(key), message))
        self.bad.add(key)

    def _get(self, key: str, expected: str, required: bool) -> Any:
        """The raw value, or None when absent (a problem if required) or null (always a problem)."""
        if key not in self.obj:
            if required:
                self.problem(key, "is required")
            return None
        value = self.obj[key]
        if value is None:
            self.problem(key, f"must be {expected}, not null")
        return value

    def _wrong(self, key: str, expected: str, value: object) -> None:
        self.problem(key, f"must be {expected}, not {_json_type(value)}")

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key, "a string", required=default is None)
        if value is None:
            return default or ""
        if not isinstance(value, str):
            self._wrong(key, "a string", value)
            return default or ""
        return value

    def number(self, key: str, default: float | None = None) -> float:
        value = self._get(key, "a number", required=default is None)
        if value is None:
            return default or 0.0
        if not _is_number(value):
            self._wrong(key, "a number", value)
            return 0.0
        return _as_float(value)

    def money(self, key: str, default: float | None = None) -> float:
        """A decimal amount in major units: a JSON number or a decimal string such as "4.25"."""
        value = self._get(key, _MONEY, required=default is None)
        if value is None:
            return default or 0.0
        amount, wrong = _money_value(value)
        if wrong:
            self.problem(key, wrong)
        return amount

    def money_array(self, key: str) -> list[float]:
        """A required array of money amounts; a bad entry is named by its index (0.0 stands in)."""
        return self._typed_array(key, _money_value)

    def number_array(self, key: str) -> list[float]:
        """A required array of numbers; a bad entry is named by its index (0.0 stands in)."""

        def number(value: object) -> tuple[float, str]:
            if _is_number(value):
                return _as_float(value), ""  # type: ignore[arg-type]
            return 0.0, f"must be a number, not {_json_type(value)}"

        return self._typed_array(key, number)

    def _typed_array(self, key: str, read: Callable[[object], tuple[float, str]]) -> list[float]:
        out: list[float] = []
        for i, entry in enumerate(self.array(key, required=True)):
            # Stand-ins keep the array's length, so a count check elsewhere is not thrown off.
            amount, wrong = read(entry)
            if wrong:
                self.problem(f"{key}[{i}]", wrong)
                self.bad.add(key)
            out.append(amount)
        return out

    def count(self, key: str, optional: bool) -> int | None:
        """A whole number >= 0; ``optional`` ones may be absent or null (meaning unlimited)."""
        if optional and self.obj.get(key) is None:
            return None
        value = self._get(key, "a whole number", required=True)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, "must be a whole number" + ("" if _is_number(value) else f", not {_json_type(value)}"))
            return 0
        if value < 0:
            self.problem(key, "must not be negative")
            return 0
        if value > limits.MAX_INVENTORY_COUNT:
            self.problem(key, f"must be at most {limits.MAX_INVENTORY_COUNT}")
            return 0
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, "true or false", required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return default
        return value

    def array(self, key: str, required: bool) -> Sequence[Any]:
        value = self._get(key, "an array", required=required)
        if value is None:
            return ()
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            self._wrong(key, "an array", value)
            return ()
        return value

    def tags(self, key: str = "tags") -> frozenset[str]:
        tags: set[str] = set()
        for i, tag in enumerate(self.array(key, required=False)):
            if isinstance(tag, str):
                tags.add(tag)
            else:
                self.problem(f"{key}[{i}]", f"must be a string, not {_json_type(tag)}")
                self.bad.add(key)
        return frozenset(tags)

    def string_map(self, key: str) -> dict[str, str]:
        value = self._get(key, "an object", required=False)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self._wrong(key, "an object", value)
            return {}
        out: dict[str, str] = {}
        for name, entry in value.items():
            if isinstance(entry, str):
                out[name] = entry
            else:
                self.problem(f"{key}.{name}", f"must be a string, not {_json_type(entry)}")
                self.bad.add(key)
        return out

    def strings(self, key: str) -> list[str]:
        """An optional array of strings (empty when absent); a bad entry is named by its index."""
        out: list[str] = []
        for i, entry in enumerate(self.array(key, required=False)):
            if isinstance(entry, str):
                out.append(entry)
            else:
                self.problem(f"{key}[{i}]", f"must be a string, not {_json_type(entry)}")
                self.bad.add(key)
        return out

    def parsed(self, key: str, parse: Callable[[str], _T], default: _T) -> _T:
        """An optional string read by ``parse`` (whose ValueError is the problem); ``default`` when
        absent or bad."""
        if key not in self.obj:
            return default
        text = self.string(key, default="")
        if key in self.bad:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            self.problem(key, str(exc))
            return default

    def parsed_array(self, key: str, parse: Callable[[str], _T]) -> list[_T]:
        """An optional array of strings each read by ``parse``; a bad entry is named by its index."""
        out: list[_T] = []
        for i, text in enumerate(self.strings(key)):
            try:
                out.append(parse(text))
            except ValueError as exc:
                self.problem(f"{key}[{i}]", str(exc))
                self.bad.add(key)
        return out

    def optional_number(self, key: str) -> float | None:
        if key not in self.obj:
            return None
        value = self.number(key)
        return None if key in self.bad else value

    def engine_problems(self, error: InvalidInputError, skip: frozenset[str] = frozenset()) -> None:
        """Record a constructor's violations, except those about fields already reported as bad
        (or named in ``skip``: fields another constructor has reported on already)."""
        for violation in error.violations:
            head = re.split(r"[.\[]", violation.field, maxsplit=1)[0]
            if head not in self.bad and head not in skip:
                self.problems.append((self.at(violation.field), violation.description))


def _parse_all(
    top: _Fields,
    key: str,
    known: frozenset[str],
    build: Callable[[_Fields], tuple[str, _T | None]],
    required: bool,
    id_field: str = "",
) -> list[tuple[str, _T | None]]:
    """Each object of an array as (its declared id, sku or service level, the built object or None if bad)."""
    out: list[tuple[str, _T | None]] = []
    first: dict[str, int] = {}
    for i, element in enumerate(top.array(key, required)):
        path = f"{key}[{i}]"
        if not isinstance(element, Mapping):
            top.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        name, built = build(_Fields(element, path, top.problems, known))
        if name and name in first:
            field = id_field or ("id" if key == "nodes" else "sku")
            top.problems.append((f"{path}.{field}", f"duplicates {name!r} (first at {key}[{first[name]}])"))
            built = None
        first.setdefault(name, i)
        out.append((name, built))
    return out


def _count_or_zero(f: _Fields, key: str) -> int:
    """An optional count, 0 when absent; null is refused (only capacities take null)."""
    return (f.count(key, optional=False) or 0) if key in f.obj else 0


def _weekdays(f: _Fields, key: str, default: frozenset[Weekday]) -> frozenset[Weekday]:
    if key not in f.obj:
        return default
    days = frozenset(f.parsed_array(key, parse_weekday))
    return days if key not in f.bad else default


def _declared(top: _Fields, key: str, parsed: Sequence[tuple[str, object]]) -> set[str] | None:
    """The ids an array declares, or None when the array or one of its ids was unreadable."""
    names = {name for name, _ in parsed}
    return None if key in top.bad or "" in names else names
