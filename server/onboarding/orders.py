"""Orders from an ERP export, as the order history simulation replays (docs/order-history.md).

Decision (docs/onboarding.md): an order export becomes an order-history file for ``simulate
run`` (a pilot's "what would we have decided"), checked by the history's own reader
(engine/simulation/history.py) against the store's catalogue. It creates no live orders: a live
order is allocated (stock reserved) by Allocate, which an import of past orders must not do.

A CSV has one row per order line, the rows of one order together (as ERPs export them); a JSON
Lines file may also hold whole orders (``lines`` an array), as the history format does. A row
that is bad rejects its whole order (every row of it goes to the report, so that the fixed
report re-imports complete orders). The output is written whole, or not at all, and is the same
bytes for the same input: re-running an import changes nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.model import Item
from engine.simulation.history import HistoryError, order_from_record, record_from_order
from server.errors import ImportFileError
from server.onboarding.catalogue import CatalogueLookup, in_base_units, unknown_sku_problem
from server.onboarding.mapping import BOOL, COUNT, LIST, MONEY, NUMBER, TEXT, TIME
from server.onboarding.records import Problem, nest
from server.onboarding.report import Tally
from server.onboarding.run import BATCH_ROWS, ImportOptions, Progress, RowSource
from server.onboarding.seen import SeenKeys
from server.onboarding.sources import SourceRow

ORDER_FIELDS = {
    "order_id": TEXT, "created_at": TIME, "channel": TEXT, "service_level": TEXT, "delivery_method": TEXT,
    "pickup_node_id": TEXT, "currency": TEXT, "ship_to.lat": NUMBER, "ship_to.lon": NUMBER,
    "ship_to.country": TEXT, "ship_to.region": TEXT, "ship_to.postal_code": TEXT, "customer.*": TEXT,
    "attributes.*": TEXT, "line_id": TEXT, "sku": TEXT, "qty": COUNT, "unit_price": MONEY,
    "unit_weight_lb": NUMBER, "hazmat": BOOL, "unit": TEXT, "line_attributes.*": TEXT, "lines": LIST,
}  # fmt: skip
_LINE_FIELDS = ("line_id", "sku", "qty", "unit_price", "unit_weight_lb", "hazmat", "unit")
_LINE_AT = re.compile(r"lines\[(\d+)\]")
Catalogue = Callable[[Sequence[str]], Mapping[str, Item]]


@dataclass(slots=True)
class _Order:
    order_id: str
    rows: list[SourceRow]
    records: list[dict[str, Any]]
    problems: dict[int, list[Problem]]  # row index in the order -> its problems


@dataclass(slots=True)
class OrdersResult:
    tally: Tally
    orders: int  # orders written (or that would be, on a dry run)
    written: bool
    ignored_columns: list[str]


def import_orders(
    options: ImportOptions,
    out: str | None,
    catalogue: Catalogue,
    lookup: CatalogueLookup,
    progress: Progress = lambda n: None,
) -> OrdersResult:
    if not options.dry_run and not out:
        raise ImportFileError("import orders writes an order-history file: give --out FILE (or --dry-run)")
    source = RowSource(options, ORDER_FIELDS)
    seen = SeenKeys()
    temporary = f"{out}.partial" if out and not options.dry_run else None
    try:
        writer = open(temporary, "w", encoding="utf-8") if temporary else None  # noqa: SIM115 (closed below)
    except OSError as exc:
        source.close()
        raise ImportFileError(f"--out {out}: {exc.strerror}") from None
    good = 0
    try:
        pending: list[_Order] = []
        pending_rows = 0
        current: _Order | None = None
        position = 0

        def flush() -> None:
            nonlocal good, position, pending_rows
            good += _finish(pending, source, seen, catalogue, lookup, writer)
            pending.clear()
            pending_rows = 0
            progress(source.handle.tell() - position)
            position = source.handle.tell()

        for row in source.rows:
            source.report.tally.rows += 1
            record, problems = source.mapped(row)
            order_id = str(record.get("order_id", "")) if not problems or "order_id" in record else ""
            if current is None or order_id != current.order_id or not order_id:
                if pending_rows >= BATCH_ROWS:
                    flush()
                current = _Order(order_id, [], [], {})
                pending.append(current)
            if problems:
                current.problems[len(current.rows)] = problems
            current.rows.append(row)
            current.records.append(record)
            pending_rows += 1
        flush()
        tally = source.report.tally
        refused = bool(tally.rejected) and not options.accept_partial
        if writer is not None:
            writer.close()
            if refused:
                os.unlink(temporary)  # type: ignore[arg-type]
            else:
                os.replace(temporary, out)  # type: ignore[arg-type]
        return OrdersResult(tally, good, writer is not None and not refused, source.ignored)
    except BaseException:
        if writer is not None:
            writer.close()
            if temporary and os.path.exists(temporary):
                os.unlink(temporary)
        raise
    finally:
        source.close()
        seen.close()


def _finish(
    orders: list[_Order], source: RowSource, seen: SeenKeys, catalogue: Catalogue, lookup: CatalogueLookup, writer: Any
) -> int:
    """Check a batch of orders, report the bad ones' rows, write the good ones; how many were good."""
    repeats = seen.first_lines([(o.order_id, o.rows[0].line) for o in orders if o.order_id and not o.problems])
    resolved = lookup.skus(sku for o in orders for r in o.records for sku in _skus(r) if sku)
    items = catalogue(sorted(set(resolved.values()))) if resolved else {}
    in_units = {
        resolved[line["sku"]] for o in orders for line in _lines(o) if line.get("unit") and line.get("sku") in resolved
    }
    factors = lookup.factors(in_units) if in_units else {}
    good = 0
    for order in orders:
        if order.order_id and order.rows[0].line in repeats:
            first = repeats[order.rows[0].line]
            order.problems[0] = [
                (
                    "order_id",
                    f"order {order.order_id!r} appeared at line {first} already; rows of one order must be together",
                )
            ]
        if not order.problems:
            _in_catalogue(order, resolved, factors)
        if order.problems:
            _reject(order, source)
            continue
        record = _record(order)
        try:
            entry = order_from_record(record, items)
        except HistoryError as exc:
            message = str(exc).removeprefix(f"order {order.order_id}: ")
            found = _LINE_AT.match(message)
            index = int(found.group(1)) if found and len(order.rows) > 1 else 0
            name, _, why = message.partition(": ")
            order.problems[min(index, len(order.rows) - 1)] = [(_LINE_AT.sub("", name).lstrip("."), why or message)]
            _reject(order, source)
            continue
        source.report.tally.accepted += len(order.rows)
        good += 1
        if writer is not None:
            writer.write(json.dumps(record_from_order(entry), sort_keys=True) + "\n")
    return good


def _skus(record: Mapping[str, Any]) -> list[str]:
    """The SKUs a row names: its own, or those of its lines (a whole order in JSON Lines)."""
    lines = record.get("lines")
    if isinstance(lines, list):
        return [str(line.get("sku", "")) for line in lines if isinstance(line, dict)]
    return [str(record.get("sku", ""))]


def _lines(order: _Order) -> list[dict[str, Any]]:
    """The order's lines as mutable records: its rows, or a whole order's ``lines``."""
    out: list[dict[str, Any]] = []
    for record in order.records:
        lines = record.get("lines")
        if isinstance(lines, list):
            out.extend(line for line in lines if isinstance(line, dict))
        else:
            out.append(record)
    return out


def _in_catalogue(order: _Order, resolved: Mapping[str, str], factors: Mapping[str, Mapping[str, int]]) -> None:
    """Each line's SKU as the catalogue's (aliases resolved) and its quantity in base units."""
    whole = len(order.records) == 1 and isinstance(order.records[0].get("lines"), list)
    for i, line in enumerate(_lines(order)):
        row = 0 if whole else i  # a whole order's problems go to its one row
        prefix = f"lines[{i}]." if whole else ""
        sku = str(line.get("sku", ""))
        if sku and sku not in resolved:
            order.problems.setdefault(row, []).append((f"{prefix}sku", unknown_sku_problem(sku)))
            continue
        if sku:
            line["sku"] = resolved[sku]
        unit = line.pop("unit", None)
        qty = line.get("qty")
        if unit and isinstance(qty, int) and not isinstance(qty, bool) and sku:
            base, problem = in_base_units(qty, str(unit), factors.get(resolved[sku], {}))
            if base is None:
                order.problems.setdefault(row, []).append((f"{prefix}unit", problem))
            else:
                line["qty"] = base


def _reject(order: _Order, source: RowSource) -> None:
    bad = min(order.problems)
    for i, row in enumerate(order.rows):
        problems = order.problems.get(i) or [
            ("", f"order {order.order_id!r} has a rejected row (line {order.rows[bad].line})")
        ]
        source.report.reject(row, problems)


def _record(order: _Order) -> dict[str, Any]:
    """One history record from the order's rows: order fields from its first row, a line per row."""
    first = order.records[0]
    record: dict[str, Any] = {
        k: v for k, v in first.items() if k not in (*_LINE_FIELDS, "lines") and not k.startswith("line_attributes.")
    }
    for prefix in ("ship_to", "customer", "attributes"):
        record = nest(record, prefix)
    if "ship_to" in record:  # coordinates stay numbers: nest() made every value text
        ship_to = dict(record["ship_to"])
        for key in ("lat", "lon"):
            if key in ship_to:
                ship_to[key] = first[f"ship_to.{key}"]
        record["ship_to"] = ship_to
    if len(order.records) == 1 and isinstance(first.get("lines"), list):
        record["lines"] = first["lines"]  # a whole order already (JSON Lines in the history format)
    else:
        record["lines"] = [_line(r) for r in order.records]
    return record


def _line(record: Mapping[str, Any]) -> dict[str, Any]:
    line = {k: record[k] for k in _LINE_FIELDS if k in record}
    attributes = {
        k.removeprefix("line_attributes."): str(v) for k, v in record.items() if k.startswith("line_attributes.")
    }
    if attributes:
        line["attributes"] = attributes
    return line
