"""The domain's plain data: nodes, items, inventory positions and orders.

Constructors validate, so an object that exists is well formed; violations carry
field paths relative to the object (callers prefix them with where it came from).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from engine import limits
from engine.errors import Violations


class NodeType(StrEnum):
    DC = "DC"
    STORE = "STORE"
    THREE_PL = "3PL"
    DROP_SHIP = "DROP_SHIP"


class DeliveryMethod(StrEnum):
    SHIP = "SHIP"
    PICKUP = "PICKUP"


class ObjectiveMode(StrEnum):
    COST = "COST"
    FEWEST_SHIPMENTS = "FEWEST_SHIPMENTS"
    # The earliest delivery of the whole order (its latest shipment), cost breaking ties; needs the
    # decision's instant (engine.sourcing.decide_from_levels' ``at``), else it decides by cost.
    EARLIEST_DELIVERY = "EARLIEST_DELIVERY"


# Ids and free text are checked here and only here (server/api/convert/ asks these functions too).
# A control character in an id is never meant: PostgreSQL's text cannot even hold NUL (the call
# failed with INTERNAL there while SQLite stored it), and the rest garble logs, CSV exports and
# terminals. Free text may keep tabs and line breaks.
_ID_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_problem(value: str, *, line_breaks: bool = False) -> str | None:
    """Why ``value`` may not be stored because of a control character; None when it has none."""
    found = (_TEXT_CONTROL if line_breaks else _ID_CONTROL).search(value)
    if found is None:
        return None
    return f"must not contain control characters (U+{ord(found.group()):04X} at position {found.start()})"


def id_problem(value: str, *, required: bool = True) -> str | None:
    """Why ``value`` is not an id (None when it is): 1-128 characters, not blank, no control characters.
    ``required=False``: an id-like optional field, which may also be empty."""
    # Printable ASCII holds no control character: the common id is judged without the regex.
    if value.isascii() and value.isprintable() and len(value) <= limits.MAX_ID_LENGTH:
        return "is required" if required and not value.strip() else None
    if required and not value.strip():
        return "is required"
    if len(value) > limits.MAX_ID_LENGTH:
        return f"is longer than {limits.MAX_ID_LENGTH} characters"
    return control_problem(value)


def text_problem(value: str, max_length: int = limits.MAX_TEXT_LENGTH) -> str | None:
    """Why ``value`` is not acceptable free text (None when it is): bounded, no control characters
    but tabs and line breaks."""
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return control_problem(value, line_breaks=True)


def _check_id(v: Violations, value: str, name: str, *, required: bool = True) -> None:
    problem = id_problem(value, required=required)
    if problem is not None:
        v.add(name, problem)


def _check_text(v: Violations, value: str, name: str, max_length: int = limits.MAX_TEXT_LENGTH) -> None:
    problem = text_problem(value, max_length)
    if problem is not None:
        v.add(name, problem)


def _check_finite(v: Violations, value: float, name: str, low: float, high: float) -> None:
    # The words are written only for a violation: every order's numbers pass through here.
    if not math.isfinite(value):
        v.add(name, "must be a finite number")
    elif not low <= value <= high:
        v.add(name, f"must be between {_number(low)} and {_number(high)}")


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def _check_tags(v: Violations, tags: frozenset[str], name: str) -> None:
    v.check(len(tags) <= limits.MAX_TAGS, name, f"has more than {limits.MAX_TAGS} tags")
    for tag in sorted(tags):
        v.check(
            0 < len(tag) <= limits.MAX_ID_LENGTH, name, f"tag {tag[:40]!r} must be 1-{limits.MAX_ID_LENGTH} characters"
        )
        problem = control_problem(tag)
        if problem is not None:
            v.add(name, f"tag {tag[:40]!r} {problem}")


def attribute_problems(attributes: Mapping[str, str]) -> list[tuple[str | None, str]]:
    """(key, problem) for each entry of ``attributes`` that may not be stored (None as the key for the
    map as a whole): at most MAX_ATTRIBUTES entries, keys 1-128 characters without control
    characters, values free text. The one definition, for the API and the network file alike."""
    if len(attributes) > limits.MAX_ATTRIBUTES:
        return [(None, f"has {len(attributes)} entries; at most {limits.MAX_ATTRIBUTES} are allowed")]
    problems: list[tuple[str | None, str]] = []
    for key in sorted(attributes):
        if not 0 < len(key) <= limits.MAX_ID_LENGTH:
            problems.append((key, f"keys must be 1-{limits.MAX_ID_LENGTH} characters"))
        elif (problem := control_problem(key)) is not None:
            problems.append((key, f"keys {problem}"))
        if (problem := text_problem(attributes[key])) is not None:
            problems.append((key, problem))
    return problems


def _check_attributes(v: Violations, attributes: Mapping[str, str], name: str = "attributes") -> None:
    for key, problem in attribute_problems(attributes):
        v.add(name if key is None else f"{name}[{key[:40]!r}]", problem)


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        v = Violations()
        _check_finite(v, self.lat, "lat", -90.0, 90.0)
        _check_finite(v, self.lon, "lon", -180.0, 180.0)
        v.raise_if_any()


@dataclass(frozen=True, slots=True)
class Node:
    """A place stock ships from: a DC, a store, a 3PL or a drop-ship vendor."""

    id: str
    type: NodeType
    location: GeoPoint
    pick_pack_cost: float  # money per shipment leaving the node
    unit_handling_cost: float  # money per unit picked there
    name: str = ""
    region: str = ""  # e.g. "US-CA" or "DE": what cross-border and regional rules select on
    max_shipments: int | None = None  # capacity still free today; None = unlimited
    max_units: int | None = None
    can_ship: bool = True
    can_pickup: bool = False
    is_open: bool = True
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        v = Violations()
        _check_id(v, self.id, "id")
        _check_text(v, self.name, "name")
        _check_id(v, self.region, "region", required=False)
        _check_finite(v, self.pick_pack_cost, "pick_pack_cost", 0.0, limits.MAX_MONEY)
        _check_finite(v, self.unit_handling_cost, "unit_handling_cost", 0.0, limits.MAX_MONEY)
        for name, cap in (("max_shipments", self.max_shipments), ("max_units", self.max_units)):
            v.check(cap is None or 0 <= cap <= limits.MAX_INVENTORY_COUNT, name, "must be absent or >= 0")
        _check_tags(v, self.tags, "tags")
        v.raise_if_any()

    @property
    def can_fulfil(self) -> bool:
        return self.is_open and self.can_ship


@dataclass(frozen=True, slots=True)
class Item:
    """A catalogue entry: what order lines are enriched with when the caller leaves fields out."""

    sku: str
    unit_weight_lb: float
    length_in: float = 0.0
    width_in: float = 0.0
    height_in: float = 0.0
    hazmat: bool = False
    tags: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = Violations()
        _check_id(v, self.sku, "sku")
        _check_finite(v, self.unit_weight_lb, "unit_weight_lb", 0.0, limits.MAX_UNIT_WEIGHT_LB)
        for name in ("length_in", "width_in", "height_in"):
            _check_finite(v, getattr(self, name), name, 0.0, 10_000.0)
        _check_tags(v, self.tags, "tags")
        _check_attributes(v, self.attributes)
        v.raise_if_any()


@dataclass(frozen=True, slots=True)
class InventoryPosition:
    """Stock of one SKU at one node. ``available`` is what may be promised."""

    node_id: str
    sku: str
    on_hand: int
    reserved: int = 0
    protected: int = 0
    as_of: datetime | None = None  # the sender's time of the last absolute count

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.protected)


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_id: str
    sku: str
    qty: int
    unit_weight_lb: float
    hazmat: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)
    # The line's own promise (docs/promise.md, "A promise per line"); empty: the order's.
    carrier_service: str = ""
    promised_date: date | None = None
    # One unit's volume (the catalogue's length x width x height; 0 unknown): dimensional weight.
    unit_volume_in3: float = 0.0

    def __post_init__(self) -> None:
        v = Violations()
        _check_id(v, self.line_id, "line_id")
        _check_id(v, self.sku, "sku")
        if not 1 <= self.qty <= limits.MAX_QTY_PER_LINE:
            v.add("qty", f"must be between 1 and {limits.MAX_QTY_PER_LINE}")
        if self.carrier_service:
            _check_id(v, self.carrier_service, "carrier_service", required=False)
        _check_finite(v, self.unit_weight_lb, "unit_weight_lb", 0.0, limits.MAX_UNIT_WEIGHT_LB)
        if self.unit_volume_in3:
            _check_finite(v, self.unit_volume_in3, "unit_volume_in3", 0.0, 10_000.0**3)
        if self.attributes:
            _check_attributes(v, self.attributes)
        v.raise_if_any()


@dataclass(frozen=True, slots=True)
class Order:
    """What the caller asks to source. Penalty overrides replace the network defaults when set."""

    order_id: str
    ship_to: GeoPoint
    lines: tuple[OrderLine, ...]
    channel: str = ""
    service_level: str = "STANDARD"
    delivery_method: DeliveryMethod = DeliveryMethod.SHIP
    pickup_node_id: str = ""
    max_shipments: int | None = None
    all_or_nothing: bool = False
    objective: ObjectiveMode = ObjectiveMode.COST
    split_penalty: float | None = None
    backorder_penalty: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    priority: int = 0  # backorders heal highest first; rules may read it
    # The delivery promise (docs/promise.md, "Sourcing by promise"): a carrier service every
    # shipment must go by, and/or the date by which every shipment must arrive.
    carrier_service: str = ""
    promised_date: date | None = None
    # What carriers surcharge by (docs/promise.md, "Price"): the ship-to address's postal code
    # (remote-area ZIP3 lists) and whether it is residential.
    postal_code: str = ""
    residential: bool = False

    def __post_init__(self) -> None:
        v = Violations()
        _check_id(v, self.order_id, "order_id")
        v.check(len(self.lines) >= 1, "lines", "must have at least one line")
        if len(self.lines) > limits.MAX_LINES_PER_ORDER:
            v.add("lines", f"has more than {limits.MAX_LINES_PER_ORDER} lines")
        seen: set[str] = set()
        for i, line in enumerate(self.lines):
            if line.line_id in seen:
                v.add(f"lines[{i}].line_id", f"duplicates line id {line.line_id!r}")
            seen.add(line.line_id)
        v.check(
            self.max_shipments is None or 1 <= self.max_shipments <= limits.MAX_LINES_PER_ORDER * 10,
            "max_shipments",
            "must be absent or at least 1",
        )
        if self.delivery_method is DeliveryMethod.PICKUP:
            v.check(bool(self.pickup_node_id), "pickup_node_id", "is required for a PICKUP order")
        for name in ("split_penalty", "backorder_penalty"):
            value = getattr(self, name)
            if value is not None:
                _check_finite(v, value, name, 0.0, limits.MAX_MONEY)
        if self.attributes:
            _check_attributes(v, self.attributes)
        _check_id(v, self.channel, "channel", required=False)
        _check_id(v, self.service_level, "service_level", required=False)
        _check_id(v, self.pickup_node_id, "pickup_node_id", required=False)
        _check_id(v, self.carrier_service, "carrier_service", required=False)
        if self.delivery_method is DeliveryMethod.PICKUP:
            for name in ("carrier_service", "promised_date"):
                v.check(not getattr(self, name), name, "must be empty for a PICKUP order (no carrier takes it)")
                for i, line in enumerate(self.lines):
                    v.check(
                        not getattr(line, name),
                        f"lines[{i}].{name}",
                        "must be empty for a PICKUP order (no carrier takes it)",
                    )
        if not 0 <= self.priority <= limits.MAX_ORDER_PRIORITY:
            v.add("priority", f"must be between 0 and {limits.MAX_ORDER_PRIORITY}")
        v.raise_if_any()

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)

    @property
    def promised(self) -> bool:
        """The order (or a line) names a carrier service or a delivery date: its decision keeps the promise."""
        return (
            bool(self.carrier_service)
            or self.promised_date is not None
            or any(line.carrier_service or line.promised_date is not None for line in self.lines)
        )

    @property
    def earliest_promised_date(self) -> date | None:
        """The earliest date the order or a line is promised by; None when none is."""
        days = [d for d in (self.promised_date, *(line.promised_date for line in self.lines)) if d is not None]
        return min(days) if days else None

    def without_dates(self) -> Order:
        """The order with no promised date (its own and its lines'): lateness accepted."""
        lines = tuple(replace(line, promised_date=None) if line.promised_date else line for line in self.lines)
        return replace(self, promised_date=None, lines=lines)

    def line_promises(self) -> tuple[tuple[str, date | None], ...]:
        """Each line's (carrier service, promised date): its own, else the order's."""
        return tuple(
            (line.carrier_service or self.carrier_service, line.promised_date or self.promised_date)
            for line in self.lines
        )
