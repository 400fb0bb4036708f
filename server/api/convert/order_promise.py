"""An order's delivery promise on the wire (``Order.carrier_service``, ``Order.promised_date``):
docs/promise.md, "Sourcing by promise". Kept apart from the line conversion on purpose."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.model import Order
from engine.promise.model import parse_date
from server.api.convert.fields import Collector, check_id, join
from server.api.proto import common_pb2

# A promised date is refused as past only once it is past everywhere: before today in the
# earliest time zone (UTC-12), so no customer's "today" is ever refused.
EARLIEST_OFFSET = timedelta(hours=12)


def order_promise_from_proto(c: Collector, path: str, msg: common_pb2.Order) -> tuple[str, date | None]:
    """(carrier service id, promised date) as the order sends them; bad forms added to ``c``.
    Whether the service exists is the decision's check (it knows the services in force)."""
    carrier_service = msg.carrier_service.strip().upper()
    check_id(c, join(path, "carrier_service"), carrier_service, required=False)
    promised: date | None = None
    if msg.promised_date:
        try:
            promised = parse_date(msg.promised_date)
        except ValueError as error:
            c.add(join(path, "promised_date"), str(error))
    return carrier_service, promised


def past_promise_problem(order: Order, now: datetime) -> str | None:
    """Why a new order's promised date cannot be kept by anyone (None when it is not past)."""
    if order.promised_date is None:
        return None
    today = (now - EARLIEST_OFFSET).date()
    if order.promised_date < today:
        return f"is in the past ({order.promised_date.isoformat()}; today is {today.isoformat()} or later everywhere)"
    return None
