"""The mapping file: how an export's columns become the service's fields, so an ERP's export is
imported as it comes (docs/onboarding.md, 'Mapping file').

TOML: ``[columns]`` source column = field; ``[constants]`` field = value for every row;
``[transforms.<field>]`` trim, upper, lower, default, values (a lookup table), factor (a unit
conversion: the value is multiplied, and a count must come out whole), separator (lists),
date_format and timezone (times), decimal_comma. Columns already named as fields need no entry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.errors import ImportFileError

# The field types a kind declares (records.py) and how text becomes each.
TEXT, NUMBER, MONEY, COUNT, BOOL, LIST, TIME = "text", "number", "money", "count", "bool", "list", "time"
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})
_TOP = frozenset({"format", "delimiter", "columns", "constants", "transforms"})
_TRANSFORM_KEYS = frozenset(
    {"trim", "upper", "lower", "default", "values", "factor", "separator", "date_format", "timezone", "decimal_comma"}
)
MAX_MAPPING_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Transform:
    trim: bool = True
    upper: bool = False
    lower: bool = False
    default: str | None = None
    values: MappingABC[str, str] = field(default_factory=dict)
    factor: Decimal | None = None
    separator: str = "|"
    date_format: str = ""
    timezone: ZoneInfo | None = None
    decimal_comma: bool = False


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A loaded mapping file (or the identity mapping when none is given)."""

    columns: MappingABC[str, str] = field(default_factory=dict)  # source column -> field
    constants: MappingABC[str, Any] = field(default_factory=dict)
    transforms: MappingABC[str, Transform] = field(default_factory=dict)
    format: str | None = None
    delimiter: str = ","

    def targets(self, source_columns: list[str], fields: MappingABC[str, str]) -> dict[str, str]:
        """Source column -> field for the columns this import reads; ImportFileError when the
        mapping names a field the kind does not have or a column the file does not."""
        out: dict[str, str] = {}
        for column, target in self.columns.items():
            if not _is_field(target, fields):
                raise ImportFileError(
                    f"mapping: column {column!r} maps to {target!r}, which is not a field; fields: {', '.join(fields)}"
                )
            if column not in source_columns:
                raise ImportFileError(
                    f"mapping: column {column!r} is not in the file's header ({', '.join(source_columns)[:300]})"
                )
            out[column] = target
        for column in source_columns:
            if column not in out and _is_field(column, fields) and column not in out.values():
                out[column] = column  # named as the field already
        for name in self.constants:
            if not _is_field(name, fields):
                raise ImportFileError(f"mapping: constant {name!r} is not a field; fields: {', '.join(fields)}")
        return out

    def row_targets(self, values: MappingABC[str, Any], fields: MappingABC[str, str]) -> dict[str, str]:
        """``targets`` for one JSON object: its keys the mapping renames or that are fields."""
        out = {k: self.columns[k] for k in values if k in self.columns}
        out.update({k: k for k in values if k not in out and _is_field(k, fields) and k not in out.values()})
        return out

    def apply(
        self, values: MappingABC[str, Any], targets: MappingABC[str, str], fields: MappingABC[str, str]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The row as fields (typed as ``fields`` says) and the problems found, each under its field."""
        raw: dict[str, Any] = dict(self.constants) if self.constants else {}
        for column, target in targets.items():
            if column in values:
                raw[target] = values[column]
        for name, transform in self.transforms.items():
            if name not in raw and transform.default is not None:
                raw[name] = transform.default
        record: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        transforms = self.transforms
        for name, value in raw.items():
            kind = fields.get(name) or _field_type(name, fields)
            converted, problem = convert(value, kind, transforms.get(name, _IDENTITY))
            if problem:
                problems.append((name, problem))
            if converted is not None:  # None: empty, the field is absent (the checks report required ones)
                record[name] = converted
        return record, problems


_IDENTITY = Transform()


def _is_field(name: str, fields: MappingABC[str, str]) -> bool:
    return name in fields or any(
        f.endswith(".*") and name.startswith(f[:-1]) and len(name) > len(f) - 1 for f in fields
    )


def _field_type(name: str, fields: MappingABC[str, str]) -> str:
    if name in fields:
        return fields[name]
    for pattern, kind in fields.items():
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return kind
    return TEXT


def convert(value: Any, kind: str, t: Transform) -> tuple[Any, str]:
    """(the value as ``kind``, "") or (None or a stand-in, what is wrong). Non-text JSON values pass
    through to the checks that know their field (bar a count's unit conversion)."""
    if t is _IDENTITY and isinstance(value, str):  # the common case, a million times per file
        if kind == TEXT:
            return value.strip(), ""
        if kind == COUNT and value.isascii() and value.isdigit():
            return int(value), ""
    if not isinstance(value, str):
        if kind == COUNT and t.factor is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return _count(Decimal(str(value)), t)
        return value, ""
    text = value.strip() if t.trim else value
    if text == "" and t.default is not None:
        text = t.default
    if text in t.values:
        text = t.values[text]
    if t.upper:
        text = text.upper()
    if t.lower:
        text = text.lower()
    if text == "" and kind != TEXT:
        return None, ""
    if kind in (TEXT, MONEY):
        return text, ""  # money stays a decimal string: the network file's checks read it exactly
    if kind == BOOL:
        if text.lower() in _TRUE:
            return True, ""
        if text.lower() in _FALSE:
            return False, ""
        return None, f"must be true or false (yes/no, 1/0), not {text[:40]!r}"
    if kind == LIST:
        return [part.strip() for part in text.split(t.separator) if part.strip()], ""
    if kind == TIME:
        return _time(text, t)
    number = _decimal(text, t)
    if number is None:
        return None, f"is not a number: {text[:40]!r}"
    if kind == COUNT:
        return _count(number, t)
    if t.factor is not None:
        number *= t.factor
    return float(number), ""


def _decimal(text: str, t: Transform) -> Decimal | None:
    if t.decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _count(number: Decimal, t: Transform) -> tuple[Any, str]:
    scaled = number * t.factor if t.factor is not None else number
    if scaled != scaled.to_integral_value():
        how = f" ({number} x {t.factor} = {scaled})" if t.factor is not None else ""
        return None, f"must be a whole number of base units, not {scaled}{how}"
    return int(scaled), ""


def _time(text: str, t: Transform) -> tuple[Any, str]:
    try:
        when = datetime.strptime(text, t.date_format) if t.date_format else datetime.fromisoformat(text)
    except ValueError:
        shape = t.date_format or "ISO 8601, e.g. 2026-12-07T06:00:00Z"
        return None, f"is not a time in the format {shape}: {text[:40]!r}"
    if when.tzinfo is None:
        if t.timezone is None:
            return None, f"has no UTC offset; add one or give the mapping a timezone: {text[:40]!r}"
        when = when.replace(tzinfo=t.timezone)
    return when.isoformat(), ""


# --- reading the file ----------------------------------------------------------------------------


def load_mapping(path: str | None) -> FieldMapping:
    if path is None:
        return FieldMapping()
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise ImportFileError(f"mapping {path}: {exc.strerror}") from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise ImportFileError(f"mapping {path}: is larger than {MAX_MAPPING_BYTES:,} bytes")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportFileError(f"mapping {path}: is not TOML: {exc}") from None
    return parse_mapping(doc, path)


def parse_mapping(doc: MappingABC[str, Any], source: str = "mapping") -> FieldMapping:
    def fail(message: str) -> ImportFileError:
        return ImportFileError(f"mapping {source}: {message}")

    unknown = sorted(set(doc) - _TOP)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; a mapping has {', '.join(sorted(_TOP))}")
    columns = doc.get("columns", {})
    constants = doc.get("constants", {})
    transforms = doc.get("transforms", {})
    for name, table in (("columns", columns), ("constants", constants), ("transforms", transforms)):
        if not isinstance(table, dict):
            raise fail(f"[{name}] must be a table")
    for column, target in columns.items():
        if not isinstance(target, str):
            raise fail(f"columns.{column!r} must name a field (a string)")
    if len(set(columns.values())) != len(columns):
        raise fail("[columns] maps two columns to one field")
    delimiter = doc.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise fail("delimiter must be one character")
    fmt = doc.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise fail("format must be 'csv' or 'jsonl'")
    return FieldMapping(
        columns=dict(columns),
        constants=dict(constants),
        transforms={name: _transform(name, spec, fail) for name, spec in transforms.items()},
        format=fmt,
        delimiter=delimiter,
    )


def _transform(name: str, spec: Any, fail: Any) -> Transform:
    if not isinstance(spec, dict):
        raise fail(f"transforms.{name} must be a table")
    unknown = sorted(set(spec) - _TRANSFORM_KEYS)
    if unknown:
        raise fail(
            f"transforms.{name}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TRANSFORM_KEYS))}"
        )
    factor = spec.get("factor")
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | float | str):
            raise fail(f"transforms.{name}.factor must be a number")
        try:
            factor = Decimal(str(factor))
        except InvalidOperation:
            raise fail(f"transforms.{name}.factor must be a number, not {factor!r}") from None
        if not factor.is_finite() or factor <= 0:
            raise fail(f"transforms.{name}.factor must be a positive number")
    zone = spec.get("timezone")
    timezone = None
    if zone is not None:
        try:
            timezone = ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(f"transforms.{name}.timezone: unknown time zone {zone!r}") from None
    values = spec.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise fail(f"transforms.{name}.values must be a table of strings")
    default = spec.get("default")
    return Transform(
        trim=bool(spec.get("trim", True)),
        upper=bool(spec.get("upper", False)),
        lower=bool(spec.get("lower", False)),
        default=None if default is None else str(default),
        values=dict(values),
        factor=factor,
        separator=str(spec.get("separator", "|")) or "|",
        date_format=str(spec.get("date_format", "")),
        timezone=timezone,
        decimal_comma=bool(spec.get("decimal_comma", False)),
    )
