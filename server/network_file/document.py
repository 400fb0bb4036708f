"""A network file as a whole: its bytes and JSON read within bounds, its sections checked
together and built into a :class:`NetworkFile`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine import limits
from engine.catalog.aliases import SkuAlias
from engine.catalog.units import ItemUnit
from engine.errors import SourcingError
from engine.model import Item, Node
from engine.promise.model import (
    CarrierService,
    NodeSchedule,
    carrier_services_in_force,
    cutoff_problems,
    unoffered_services,
)
from engine.rates import RateTable, rate_tables_in_force
from server.network_file.catalogue import _check_aliases
from server.network_file.fields import _CURRENCY, ROOT, Problem, _Fields, _json_type, _JsonObject, _parse_all
from server.network_file.nodes import _ITEM_FIELDS, _NODE_FIELDS, _inventory, _item, _node, _NodeEntry
from server.network_file.promise_data import _carrier_services, _holiday_calendars, _rate_tables
from server.store.base import InventoryUpdate

FORMAT = "oms-sourcing/network@1"


_MAX_PROBLEMS_IN_MESSAGE = 20


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
    # the items' channel SKUs, vendor SKUs and barcodes (normalized), docs/onboarding.md
    sku_aliases: tuple[SkuAlias, ...] = ()
    # the items' units besides EACH (inventory counted in them is in base units already)
    item_units: tuple[ItemUnit, ...] = ()

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
    aliases: list[tuple[str, SkuAlias]] = []
    units: list[ItemUnit] = []
    items = _parse_all(top, "items", _ITEM_FIELDS, lambda f: _item(f, aliases, units), required=False)
    _check_aliases(top, items, aliases)
    inventory = _inventory(top, nodes, items, as_of, units)
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
        sku_aliases=tuple(alias for _, alias in aliases),
        item_units=tuple(units),
    )


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
