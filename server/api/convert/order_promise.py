"""An order's delivery promise on the wire (``Order.carrier_service``, ``Order.promised_date``, and
a line's own, ``OrderLine.carrier_service`` and ``.promised_date``): docs/promise.md, "Sourcing by
promise". Kept apart from the line conversion on purpose."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.model import Order
from engine.promise.model import parse_date
from server.api.convert.fields import Collector, check_id, join
from server.api.proto import common_pb2

# A promised date is refused as past only once it is past everywhere: before today in the
# earliest time zone (UTC-12), so no customer's "today" is ever refused.
EARLIEST_OFFSET = timedelta(hours=12)


def promise_from_proto(
    c: Collector, path: str, msg: common_pb2.Order | common_pb2.OrderLine
) -> tuple[str, date | None]:
    """(carrier service id, promised date) as the order or line sends them; bad forms added to ``c``.
    Whether the service exists is the decision's check (it knows the services in force)."""
    carrier_service = msg.carrier_service.strip().upper()
    if carrier_service:  # an empty optional id is fine
        check_id(c, join(path, "carrier_service"), carrier_service, required=False)
    promised: date | None = None
    if msg.promised_date:
        try:
            promised = parse_date(msg.promised_date)
        except ValueError as error:
            c.add(join(path, "promised_date"), str(error))
    return carrier_service, promised


def past_promise_problems(order: Order, now: datetime) -> list[tuple[str, str]]:
    """(field under the order, why) for each promised date of a new order (its own, its lines')
    no one can keep any more; empty when none is past."""
    today = (now - EARLIEST_OFFSET).date()
    dated = [("promised_date", order.promised_date)]
    dated += [(f"lines[{i}].promised_date", line.promised_date) for i, line in enumerate(order.lines)]
    return [
        (field, f"is in the past ({day.isoformat()}; today is {today.isoformat()} or later everywhere)")
        for field, day in dated
        if day is not None and day < today
    ]
