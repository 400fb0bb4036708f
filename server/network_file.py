"""Network files: a whole network (nodes, catalogue, stock counts, carrier rates and services, node
calendars) as one JSON document.

The format is described field by field in docs/network-file.md. Loading checks
everything and reports every problem at once, each under the JSON path where it
was found (``nodes[3].lat: must be between -90 and 90``), so whoever fixes a
file fixes it in one pass.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from engine import limits
from engine.errors import InvalidInputError, SourcingError
from engine.model import GeoPoint, Item, Node, NodeType, id_problem
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_TIME_ZONE,
    MINUTES_PER_DAY,
    MONDAY_TO_FRIDAY,
    OFFSHORE_ZONES,
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
    carrier_services_in_force,
    cutoff_problems,
    holiday_problem,
    parse_date,
    parse_time_of_day,
    parse_weekday,
    serves_standard,
    unoffered_services,
)
from engine.rates import DEFAULT_SERVICE_LEVEL, RateTable, rate_tables_in_force
from server.store.base import InventoryUpdate, UpdateKind

FORMAT = "oms-sourcing/network@1"

Problem = tuple[str, str]  # (json path, what is wrong there)

ROOT = "$"  # the path of problems with the document as a whole
_MAX_PROBLEMS_IN_MESSAGE = 20

_CURRENCY = re.compile(r"[A-Z]{3}")
# ISO 3166-1 country or 3166-2 subdivision: rules select on region, so a typo must not pass silently.
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")

_TOP_FIELDS = frozenset(
    {
        "format",
        "currency",
        "as_of",
        "nodes",
        "items",
        "inventory",
        "rate_tables",
        "holiday_calendars",
        "carrier_services",
    }
)
_NODE_FIELDS = frozenset(
    {
        "id", "type", "name", "region", "lat", "lon", "pick_pack_cost", "unit_handling_cost",
        "max_shipments", "max_units", "can_ship", "can_pickup", "is_open", "tags",
        # the node's schedule (docs/promise.md)
        "time_zone", "working_days", "opens", "closes", "holidays", "holiday_calendars", "processing_days",
        "cutoffs", "pickup_ready_minutes",
    }
)  # fmt: skip
_ITEM_FIELDS = frozenset(
    {"sku", "unit_weight_lb", "length_in", "width_in", "height_in", "hazmat", "tags", "attributes"}
)
_INVENTORY_FIELDS = frozenset({"node_id", "sku", "on_hand"})
_RATE_TABLE_FIELDS = frozenset({"service_level", "zone_limits_miles", "base", "per_lb"})
_HOLIDAY_CALENDAR_FIELDS = frozenset({"id", "dates"})
_CUTOFF_FIELDS = frozenset({"carrier_service", "time"})
_CARRIER_SERVICE_FIELDS = frozenset(
    {
        "id", "carrier", "service_level", "zones", "pickup_days", "delivery_days", "holidays", "holiday_calendars",
        "dim_divisor", "residential_surcharge", "non_contiguous_surcharge", "remote_area_surcharge",
        "remote_area_zip3",
    }
)  # fmt: skip
_ZONE_FIELDS = frozenset({"zone", "up_to_miles", "transit_days", "base", "per_lb"})

_T = TypeVar("_T")


@dataclass(frozen=True)
class NetworkFile:
    """A loaded network. ``inventory`` holds absolute counts stamped with the file's ``as_of``.

    ``rate_tables`` are the file's own, empty when it has no ``rate_tables`` section (a present
    section always holds STANDARD); ``rate_tables_in_force`` is what decisions on it use.

    ``node_schedules`` has one schedule per node, in the order of ``nodes`` (defaults where the file
    gives none); ``carrier_services`` are the file's own, empty without a ``carrier_services``
    section; ``carrier_services_in_force`` is what promises on it use (docs/promise.md).
    ``holiday_calendars`` are the file's named date lists (schedules and services hold their dates
    already). ``load-network`` writes them all.
    """

    currency: str
    as_of: datetime
    nodes: tuple[Node, ...]
    items: tuple[Item, ...]
    inventory: tuple[InventoryUpdate, ...]
    rate_tables: tuple[RateTable, ...] = ()
    node_schedules: tuple[NodeSchedule, ...] = ()
    carrier_services: tuple[CarrierService, ...] = ()
    holiday_calendars: Mapping[str, frozenset[date]] = field(default_factory=dict)

    @property
    def rate_tables_in_force(self) -> dict[str, RateTable]:
        return rate_tables_in_force(self.rate_tables)

    @property
    def carrier_services_in_force(self) -> dict[str, CarrierService]:
        return carrier_services_in_force(self.carrier_services, self.rate_tables)


class NetworkFileError(SourcingError):
    """A network file that cannot be loaded; ``problems`` lists every (json path, message) found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems: list[Problem] = list(problems)
        shown = "; ".join(f"{path}: {message}" for path, message in self.problems[:_MAX_PROBLEMS_IN_MESSAGE])
        more = len(self.problems) - _MAX_PROBLEMS_IN_MESSAGE
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s): {shown}{suffix}")


def read_network_file(path: str | Path) -> NetworkFile:
    """Load and check a network file. OSError (missing file, no permission) passes through unchanged.
    Whatever the bytes, anything else is a NetworkFileError: hostile files (huge, nested deep,
    numbers past any range, escapes that are no character) are refused naming the problem."""
    source = str(path)
    with open(path, "rb") as file:
        raw = file.read(limits.MAX_NETWORK_FILE_BYTES + 1)  # never more than the limit in memory
    if len(raw) > limits.MAX_NETWORK_FILE_BYTES:
        limit = f"{limits.MAX_NETWORK_FILE_BYTES:,}"
        raise NetworkFileError(source, [(ROOT, f"is larger than the limit of {limit} bytes; load the rest by the API")])
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark: some editors on Windows add one
    except UnicodeDecodeError as exc:
        raise NetworkFileError(source, [(ROOT, f"is not UTF-8 text (bad byte at offset {exc.start})")]) from exc
    return parse_network_json(text, source)


def parse_network_json(text: str, source: str = "<memory>") -> NetworkFile:
    """A network file's text, checked and built; NetworkFileError, and nothing else, for any text
    (the entry point for fuzzing the reader)."""
    return parse_network(_decode_json(text, source), source)


def _decode_json(text: str, source: str) -> Any:
    """The JSON document; NetworkFileError for anything json.loads would raise or pass on unchecked."""
    try:
        doc = json.loads(text, object_pairs_hook=_JsonObject.from_pairs, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        message = f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise NetworkFileError(source, [(ROOT, message)]) from None
    except RecursionError:  # json's C reader stops at Python's recursion limit; the format nests 5 deep
        raise NetworkFileError(
            source, [(ROOT, "nests arrays and objects too deep (the format needs 5 levels)")]
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits, NaN or Infinity
        raise NetworkFileError(source, [(ROOT, f"holds a value JSON cannot carry: {str(exc).split(';')[0]}")]) from None
    lone = _lone_surrogate(text)
    if lone is not None:  # decodes to no character: no store and no protobuf message can hold it
        line = text.count("\n", 0, lone) + 1
        message = f"line {line}: {text[lone : lone + 6]} is half of a UTF-16 pair without the other half"
        raise NetworkFileError(source, [(ROOT, message)])
    return doc


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


# A \uD800-\uDFFF escape. Only an odd run of backslashes escapes: the lookbehind and the pairs
# take even runs ("\\ud800" is the text \ud800).
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u([dD][89a-fA-F][0-9a-fA-F]{2})")


def _lone_surrogate(text: str) -> int | None:
    """Where an escape decodes to half a UTF-16 pair alone (a high half not followed at once by a
    low half, or a low half alone), or None. json.loads passes such halves on as they are."""
    waiting = -1  # the end of a high half, where its low half must start
    for m in _SURROGATE_ESCAPE.finditer(text):
        start, low = m.end() - 6, int(m.group(1), 16) >= 0xDC00
        if waiting >= 0:
            if low and start == waiting:
                waiting = -1
                continue
            return waiting - 6
        if low:
            return start
        waiting = m.end()
    return waiting - 6 if waiting >= 0 else None


def parse_network(doc: Mapping[str, Any], source: str = "<memory>") -> NetworkFile:
    """Check a decoded network document and build the engine's objects from it."""
    problems: list[Problem] = []
    if not isinstance(doc, Mapping):
        raise NetworkFileError(source, [(ROOT, f"must be a JSON object, not {_json_type(doc)}")])
    top = _Fields(doc, "", problems, _TOP_FIELDS)
    fmt = top.string("format")
    if "format" not in top.bad and fmt != FORMAT:
        top.problem("format", f"is {fmt!r}; this reader understands only {FORMAT!r}")
    if "format" in top.bad:
        # Another format (or none) says nothing about the shape of the rest: checking it would be noise.
        raise NetworkFileError(source, problems)
    currency = _currency(top)
    as_of = _as_of(top)
    calendars = _holiday_calendars(top)
    nodes = _parse_all(top, "nodes", _NODE_FIELDS, lambda f: _node(f, calendars), required=True)
    items = _parse_all(top, "items", _ITEM_FIELDS, _item, required=False)
    inventory = _inventory(top, nodes, items, as_of)
    rate_tables = _rate_tables(top)
    services = _carrier_services(top, calendars)
    _check_promise_data(top, nodes, rate_tables, services)
    if problems:
        raise NetworkFileError(source, problems)
    return NetworkFile(
        currency=currency,
        as_of=as_of,
        nodes=tuple(entry.node for _, entry in nodes if entry is not None),
        items=tuple(item for _, item in items if item is not None),
        inventory=tuple(inventory),
        rate_tables=tuple(table for _, table in rate_tables if table is not None),
        node_schedules=tuple(entry.schedule for _, entry in nodes if entry is not None),
        carrier_services=tuple(service for _, service in services if service is not None),
        holiday_calendars={name: dates for name, dates in calendars.items() if dates is not None},
    )


# --- reading fields -----------------------------------------------------------------------------------------


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


def _currency(top: _Fields) -> str:
    currency = top.string("currency")
    if "currency" not in top.bad and not _CURRENCY.fullmatch(currency):
        top.problem("currency", f"must be an ISO 4217 code such as 'USD', not {currency[:40]!r}")
    return currency


def _as_of(top: _Fields) -> datetime:
    text = top.string("as_of")
    placeholder = datetime(1970, 1, 1, tzinfo=UTC)
    if "as_of" in top.bad:
        return placeholder
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        top.problem("as_of", f"must be an ISO 8601 time such as '2026-11-24T00:00:00Z', not {text[:40]!r}")
        return placeholder
    if when.tzinfo is None:
        # Absolute counts are ordered by this time against counts from other senders: local time is ambiguous.
        top.problem("as_of", "must include a timezone, e.g. '2026-11-24T00:00:00Z'")
        return placeholder
    return when.astimezone(UTC)


# --- nodes, items, inventory --------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _NodeEntry:
    node: Node
    schedule: NodeSchedule
    index: int  # its place in the file's nodes array, for problems found later


def _node(f: _Fields, calendars: _Calendars) -> tuple[str, _NodeEntry | None]:
    node_id, node = _node_itself(f)
    schedule = _node_schedule(f, node_id, calendars)
    if node is None or schedule is None or not f.ok:
        return node_id, None
    return node_id, _NodeEntry(node, schedule, int(f.path[len("nodes[") : -1]))  # f.path is "nodes[<i>]"


def _node_itself(f: _Fields) -> tuple[str, Node | None]:
    node_id = f.string("id")
    node_type = _node_type(f)
    region = f.string("region", default="")
    if "region" not in f.bad and region and not _REGION.fullmatch(region):
        f.problem("region", f"must be an ISO 3166 code such as 'US-TX' or 'DE', not {region[:40]!r}")
    location = _location(f)
    try:
        node = Node(
            id=node_id,
            type=node_type,
            location=location,
            pick_pack_cost=f.money("pick_pack_cost"),
            unit_handling_cost=f.money("unit_handling_cost"),
            name=f.string("name", default=""),
            region=region,
            max_shipments=f.count("max_shipments", optional=True),
            max_units=f.count("max_units", optional=True),
            can_ship=f.boolean("can_ship", default=True),
            can_pickup=f.boolean("can_pickup", default=False),
            is_open=f.boolean("is_open", default=True),
            tags=f.tags(),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return node_id, None
    return node_id, node


def _node_schedule(f: _Fields, node_id: str, calendars: _Calendars) -> NodeSchedule | None:
    """The node's schedule fields; the defaults (docs/promise.md) for those it leaves out."""
    cutoffs = _cutoffs(f) if "cutoffs" in f.obj else None
    try:
        return NodeSchedule(
            node_id=node_id,
            time_zone=f.string("time_zone", default=DEFAULT_TIME_ZONE),
            working_days=_weekdays(f, "working_days", ALL_WEEK),
            opens=f.parsed("opens", parse_time_of_day, 0),
            closes=f.parsed("closes", parse_time_of_day, MINUTES_PER_DAY),
            holidays=_holidays(f, calendars),
            processing_days=_count_or_zero(f, "processing_days"),
            cutoffs=cutoffs,
            pickup_ready_minutes=_count_or_zero(f, "pickup_ready_minutes"),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc, skip=frozenset({"node_id"}))  # the node's own check reports its id
        return None


def _count_or_zero(f: _Fields, key: str) -> int:
    """An optional count, 0 when absent; null is refused (only capacities take null)."""
    return (f.count(key, optional=False) or 0) if key in f.obj else 0


def _cutoffs(f: _Fields) -> tuple[Cutoff, ...]:
    cutoffs: list[Cutoff] = []
    entries = f.array("cutoffs", required=True)
    for i, element in enumerate(entries):
        path = f.at(f"cutoffs[{i}]")
        if not isinstance(element, Mapping):
            f.problem(f"cutoffs[{i}]", f"must be an object, not {_json_type(element)}")
            continue
        c = _Fields(element, path, f.problems, _CUTOFF_FIELDS)
        service = c.string("carrier_service").upper()  # matched in any case, kept upper-cased
        if "time" in c.obj:
            time = c.parsed("time", parse_time_of_day, 0)
        else:
            c.problem("time", "is required")
            time = 0
        try:
            cutoff = Cutoff(service, time)
        except InvalidInputError as exc:
            c.engine_problems(exc)
            continue
        if c.ok:
            cutoffs.append(cutoff)
    if len(cutoffs) != len(entries):
        f.bad.add("cutoffs")  # one entry broken: the rest are not also checked against each other
    return tuple(cutoffs)


def _weekdays(f: _Fields, key: str, default: frozenset[Weekday]) -> frozenset[Weekday]:
    if key not in f.obj:
        return default
    days = frozenset(f.parsed_array(key, parse_weekday))
    return days if key not in f.bad else default


_Calendars = dict[str, frozenset[date] | None]  # holiday calendar id -> its dates (None: the calendar is broken)


def _holidays(f: _Fields, calendars: _Calendars) -> frozenset[date]:
    """The object's own holidays and those of the holiday calendars it names, as one set."""
    days = set(f.parsed_array("holidays", parse_date))
    for i, name in enumerate(f.strings("holiday_calendars")):
        if name not in calendars:
            known = ", ".join(sorted(calendars)) or "none in this file"
            f.problem(f"holiday_calendars[{i}]", f"names unknown holiday calendar {name[:60]!r}; known: {known}")
            f.bad.add("holiday_calendars")
            continue
        dates = calendars[name]
        if dates is None:
            f.bad.add("holidays")  # that calendar's problems are reported once, at the calendar
        else:
            days |= dates
    if "holiday_calendars" in f.bad:
        f.bad.add("holidays")
    return frozenset(days)


def _node_type(f: _Fields) -> NodeType:
    text = f.string("type")
    try:
        return NodeType(text)
    except ValueError:
        if "type" not in f.bad:
            choices = ", ".join(t.value for t in NodeType)
            f.problem("type", f"must be one of {choices}, not {text[:40]!r}")
        return NodeType.DC


def _location(f: _Fields) -> GeoPoint:
    lat, lon = f.number("lat"), f.number("lon")
    try:
        return GeoPoint(lat, lon)
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return GeoPoint(0.0, 0.0)


def _item(f: _Fields) -> tuple[str, Item | None]:
    sku = f.string("sku")
    try:
        item = Item(
            sku=sku,
            unit_weight_lb=f.number("unit_weight_lb"),
            length_in=f.number("length_in", default=0.0),
            width_in=f.number("width_in", default=0.0),
            height_in=f.number("height_in", default=0.0),
            hazmat=f.boolean("hazmat", default=False),
            tags=f.tags(),
            attributes=f.string_map("attributes"),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return sku, None
    return sku, (item if f.ok else None)


def _inventory(
    top: _Fields,
    nodes: Sequence[tuple[str, object]],
    items: Sequence[tuple[str, object]],
    as_of: datetime,
) -> list[InventoryUpdate]:
    # Declared names count even when their object was bad: one bad node must not also flag all its stock.
    # When some id could not be read at all, references are not checked: they would only repeat that problem.
    node_ids = _declared(top, "nodes", nodes)
    skus = _declared(top, "items", items)
    first: dict[tuple[str, str], int] = {}
    updates: list[InventoryUpdate] = []
    for i, element in enumerate(top.array("inventory", required=False)):
        path = f"inventory[{i}]"
        if not isinstance(element, Mapping):
            top.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        f = _Fields(element, path, top.problems, _INVENTORY_FIELDS)
        node_id, sku, on_hand = f.string("node_id"), f.string("sku"), f.count("on_hand", optional=False) or 0
        if "node_id" not in f.bad and node_ids is not None and node_id not in node_ids:
            f.problem("node_id", f"names unknown node {node_id[:60]!r}")
        if "sku" not in f.bad and skus is not None and sku not in skus:
            f.problem("sku", f"names unknown sku {sku[:60]!r}")
        if not f.ok:
            continue
        if (node_id, sku) in first:
            # Two absolute counts for one position: which one is right cannot be told from the file.
            top.problems.append(
                (path, f"repeats the position ({node_id!r}, {sku!r}) of inventory[{first[node_id, sku]}]")
            )
            continue
        first[(node_id, sku)] = i
        updates.append(InventoryUpdate(node_id, sku, UpdateKind.ABSOLUTE, on_hand, as_of))
    return updates


def _declared(top: _Fields, key: str, parsed: Sequence[tuple[str, object]]) -> set[str] | None:
    """The ids an array declares, or None when the array or one of its ids was unreadable."""
    names = {name for name, _ in parsed}
    return None if key in top.bad or "" in names else names


# --- rate tables --------------------------------------------------------------------------------------------


def _rate_tables(top: _Fields) -> list[tuple[str, RateTable | None]]:
    """The section's tables; when present it replaces the defaults, so it must hold STANDARD."""
    if "rate_tables" not in top.obj:
        return []
    tables = _parse_all(top, "rate_tables", _RATE_TABLE_FIELDS, _rate_table, required=True, id_field="service_level")
    if "rate_tables" in top.bad:
        return tables
    if len(tables) > limits.MAX_SERVICE_LEVELS:
        top.problem("rate_tables", f"has {len(tables)} tables; at most {limits.MAX_SERVICE_LEVELS} are allowed")
    names = {name for name, _ in tables}
    # Unchecked while some service level is unreadable: it may be the STANDARD one.
    if "" not in names and DEFAULT_SERVICE_LEVEL not in names:
        top.problem(
            "rate_tables",
            f"must include a {DEFAULT_SERVICE_LEVEL!r} table: orders without a service level use it, "
            "and the section replaces the default tables",
        )
    return tables


def _rate_table(f: _Fields) -> tuple[str, RateTable | None]:
    # Orders match service levels in any case, so the file may too; tables are kept upper-cased.
    level = f.string("service_level").upper()
    zone_limits = f.number_array("zone_limits_miles")
    base, per_lb = f.money_array("base"), f.money_array("per_lb")
    if "zone_limits_miles" in f.bad and not zone_limits:
        # Unreadable limits: stand in as many as the rates imply, so their count is not also reported.
        zone_limits = [float(i + 1) for i in range(len(base) - 1)]
    try:
        table = RateTable(level, tuple(zone_limits), tuple(base), tuple(per_lb))
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return level, None
    return level, (table if f.ok else None)


# --- holiday calendars and carrier services -----------------------------------------------------------------


def _holiday_calendars(top: _Fields) -> _Calendars:
    """Named lists of dates that nodes and carrier services take their holidays from."""
    calendars: _Calendars = {}
    if "holiday_calendars" not in top.obj:
        return calendars
    entries = top.array("holiday_calendars", required=True)
    if len(entries) > limits.MAX_HOLIDAY_CALENDARS:
        top.problem(
            "holiday_calendars", f"has {len(entries)} calendars; at most {limits.MAX_HOLIDAY_CALENDARS} are allowed"
        )
        return calendars
    first: dict[str, int] = {}
    for i, element in enumerate(entries):
        path = f"holiday_calendars[{i}]"
        if not isinstance(element, Mapping):
            top.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        f = _Fields(element, path, top.problems, _HOLIDAY_CALENDAR_FIELDS)
        name = f.string("id")
        if "id" not in f.bad and (problem := id_problem(name)) is not None:
            f.problem("id", problem)
        elif name in first:
            f.problem("id", f"duplicates {name[:60]!r} (first at holiday_calendars[{first[name]}])")
        first.setdefault(name, i)
        if "dates" not in f.obj:
            f.problem("dates", "is required")
        dates = f.parsed_array("dates", parse_date)
        if len(dates) > limits.MAX_HOLIDAYS:
            f.problem("dates", f"has {len(dates)} dates; at most {limits.MAX_HOLIDAYS} are allowed")
        for j, day in enumerate(dates if "dates" not in f.bad else ()):
            if (problem := holiday_problem(day)) is not None:
                f.problem(f"dates[{j}]", problem)
        if "id" not in f.bad and name not in calendars:
            calendars[name] = frozenset(dates) if f.ok else None
    return calendars


def _carrier_services(top: _Fields, calendars: _Calendars) -> list[tuple[str, CarrierService | None]]:
    if "carrier_services" not in top.obj:
        return []
    services = _parse_all(
        top, "carrier_services", _CARRIER_SERVICE_FIELDS, lambda f: _carrier_service(f, calendars),
        required=True, id_field="id",
    )  # fmt: skip
    if "carrier_services" in top.bad:
        return services
    if len(services) > limits.MAX_CARRIER_SERVICES:
        top.problem(
            "carrier_services", f"has {len(services)} services; at most {limits.MAX_CARRIER_SERVICES} are allowed"
        )
    # Unchecked while some service is unreadable: it may be the STANDARD one.
    if all(service is not None for _, service in services) and not serves_standard(
        service for _, service in services if service is not None
    ):
        top.problem(
            "carrier_services",
            f"must include a service of service_level {DEFAULT_SERVICE_LEVEL!r}: orders without a service level "
            "use it, and the section replaces the default services",
        )
    return services


def _carrier_service(f: _Fields, calendars: _Calendars) -> tuple[str, CarrierService | None]:
    service_id = f.string("id").upper()  # matched in any case, as service levels are
    zones = _zone_chart(f)
    try:
        service = CarrierService(
            id=service_id,
            carrier=f.string("carrier"),
            service_level=f.string("service_level").upper(),
            zones=zones,
            pickup_days=_weekdays(f, "pickup_days", MONDAY_TO_FRIDAY),
            delivery_days=_weekdays(f, "delivery_days", MONDAY_TO_FRIDAY),
            holidays=_holidays(f, calendars),
            dim_divisor=f.optional_number("dim_divisor"),
            residential_surcharge=f.money("residential_surcharge", default=0.0),
            non_contiguous_surcharge=f.money("non_contiguous_surcharge", default=0.0),
            remote_area_surcharge=f.money("remote_area_surcharge", default=0.0),
            remote_area_zip3=frozenset(f.strings("remote_area_zip3")),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return service_id, None
    return service_id, (service if f.ok else None)


_STAND_IN_CHART = (ZoneRate("1", 0, 0.0, 0.0),)  # lets the service's other fields be checked


def _zone_chart(f: _Fields) -> tuple[ZoneRate, ...]:
    """The zone rows; when one is broken, the chart is not also checked as a whole."""
    rows: list[ZoneRate] = []
    entries = f.array("zones", required=True)
    for i, element in enumerate(entries):
        path = f.at(f"zones[{i}]")
        if not isinstance(element, Mapping):
            f.problem(f"zones[{i}]", f"must be an object, not {_json_type(element)}")
            continue
        z = _Fields(element, path, f.problems, _ZONE_FIELDS)
        zone = _zone_label(z)
        try:
            row = ZoneRate(
                zone=zone,
                transit_days=z.count("transit_days", optional=False) or 0,
                base=z.money("base"),
                per_lb=z.money("per_lb"),
                up_to_miles=z.optional_number("up_to_miles"),
            )
        except InvalidInputError as exc:
            z.engine_problems(exc)
            continue
        if z.ok:
            rows.append(row)
    if "zones" in f.bad or len(rows) != len(entries):
        f.bad.add("zones")
        return _STAND_IN_CHART
    return tuple(rows)


def _zone_label(z: _Fields) -> str:
    """A zone number (a JSON integer) or "AK" / "HI", as the engine's zone label."""
    value = z._get("zone", "a zone number or 'AK' or 'HI'", required=True)
    if isinstance(value, str) and value in OFFSHORE_ZONES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= limits.MAX_RATE_ZONES:
        return str(value)
    if value is not None:
        z.problem("zone", f"must be a zone number 1-{limits.MAX_RATE_ZONES}, 'AK' or 'HI', not {str(value)[:40]!r}")
    return "1"


def _check_promise_data(
    top: _Fields,
    nodes: Sequence[tuple[str, _NodeEntry | None]],
    rate_tables: Sequence[tuple[str, RateTable | None]],
    services: Sequence[tuple[str, CarrierService | None]],
) -> None:
    """What only the whole file shows: cut-offs naming services that do not exist or never pick
    up on the node's working days, services no node offers, and rates given twice."""
    if "carrier_services" in top.obj and "rate_tables" in top.obj:
        top.problem(
            "rate_tables",
            "must be absent when carrier_services is present: carrier services carry their own rates",
        )
        return
    readable = "carrier_services" not in top.bad and all(service is not None for _, service in services)
    if not readable or "rate_tables" in top.bad or any(table is None for _, table in rate_tables):
        return  # references are checked against a set of services that could be read whole
    in_force = carrier_services_in_force(
        [s for _, s in services if s is not None], [t for _, t in rate_tables if t is not None]
    )
    schedules = [entry for _, entry in nodes if entry is not None]
    for entry in schedules:
        for problem in cutoff_problems(entry.schedule, in_force):
            top.problems.append((f"nodes[{entry.index}].{problem.field}", problem.description))
    every_node_read = isinstance(top.obj.get("nodes"), list) and len(schedules) == len(top.obj["nodes"])
    if services and every_node_read:  # a node that could not be read may be the one offering a service
        unoffered = set(unoffered_services((e.schedule for e in schedules), in_force.values()))
        for i, (service_id, _) in enumerate(services):
            if service_id in unoffered:
                top.problems.append(
                    (f"carrier_services[{i}].id", f"no node offers it: no node's cutoffs name {service_id!r}")
                )


# --- one record at a time (CSV and JSON Lines imports, server/onboarding) -----------------------------------

# The node fields an import row may carry: the node itself; schedules come with network files.
NODE_RECORD_FIELDS = frozenset(
    {"id", "type", "name", "region", "lat", "lon", "pick_pack_cost", "unit_handling_cost", "max_shipments",
     "max_units", "can_ship", "can_pickup", "is_open", "tags"}
)  # fmt: skip
ITEM_RECORD_FIELDS = _ITEM_FIELDS
COUNT_RECORD_FIELDS = _INVENTORY_FIELDS


def node_from_record(record: Mapping[str, Any]) -> tuple[Node | None, list[Problem]]:
    """One node checked exactly as a network file's ``nodes[i]`` is: (the node, or None and every
    problem, each under its field name)."""
    problems: list[Problem] = []
    f = _Fields(record, "", problems, NODE_RECORD_FIELDS)
    node_id, node = _node_itself(f)
    if "id" not in f.bad and (problem := id_problem(node_id)) is not None and not any(p == "id" for p, _ in problems):
        f.problem("id", problem)
    return (node if not problems else None), problems


def item_from_record(record: Mapping[str, Any]) -> tuple[Item | None, list[Problem]]:
    """One item checked exactly as a network file's ``items[i]`` is."""
    problems: list[Problem] = []
    _, item = _item(_Fields(record, "", problems, ITEM_RECORD_FIELDS))
    return (item if not problems else None), problems


def count_from_record(record: Mapping[str, Any]) -> tuple[tuple[str, str, int] | None, list[Problem]]:
    """One stock count (node_id, sku, on_hand) checked as a network file's ``inventory[i]`` is
    (whether the node and SKU exist is the caller's to check: they live in the store)."""
    problems: list[Problem] = []
    f = _Fields(record, "", problems, COUNT_RECORD_FIELDS)
    node_id, sku, on_hand = f.string("node_id"), f.string("sku"), f.count("on_hand", optional=False) or 0
    for key, value in (("node_id", node_id), ("sku", sku)):
        if key not in f.bad and (problem := id_problem(value)) is not None:
            f.problem(key, problem)
    return ((node_id, sku, on_hand) if not problems else None), problems
