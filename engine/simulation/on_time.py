"""Delivery-promise KPIs of one side's outcomes (docs/promise.md, docs/simulation.md).

- **on-time rate**: of the orders carrying a promised date, those decided, with nothing
  backordered and their estimated delivery (their latest shipment's) on or before the date;
- **promised days**: days from the order's date (UTC) to its promised date, mean over those orders;
- **delivery days**: days from the order's date to its estimated delivery, mean over every order
  whose shipments are dated (with a promise or not);
- **late orders by cause**: each promised order not on time, by the first cause that applies:
  held for review, not decided, units backordered (no node held them in time), delivered after
  the date (a rule allowed lateness at a penalty);
- **on-time ship** (the live report, from the shipments ConfirmShipment recorded): of the confirmed
  shipments from a node the decision dated, those that left (the node's local date) on or before
  their planned ship date; and of the orders with such shipments, those whose every one did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.simulation.replay import Outcome, OutcomeStatus

HELD = "held for review"
FAILED = "not decided"
BACKORDERED = "units backordered"
AFTER_DATE = "delivered after the date"
LATE_CAUSES = (HELD, FAILED, BACKORDERED, AFTER_DATE)

# The promise KPIs a ``--fail-if`` can gate on, each with the count it is measured over: a window
# without one (no promised order, no confirmed shipment) has nothing to gate.
GATED: Mapping[str, str] = {
    "on_time_rate": "promised_orders",
    "late_orders": "promised_orders",
    "promised_days": "promised_orders",
    "delivery_days": "dated_orders",
    "on_time_ship_rate": "confirmed_shipments",
    "on_time_ship_order_rate": "shipped_orders",
}


@dataclass(frozen=True)
class OnTime:
    promised_orders: int
    on_time_orders: int
    late_by_cause: dict[str, int]  # every cause of LATE_CAUSES, in that order
    promised_days: float  # mean, over promised orders; 0 without any
    dated_orders: int
    delivery_days: float  # mean, over dated orders; 0 without any
    confirmed_shipments: int = 0  # confirmed shipments with a planned ship date
    shipped_on_time: int = 0  # of those, left on or before it
    shipped_orders: int = 0  # orders with such shipments
    shipped_on_time_orders: int = 0  # of those, every one left on time

    @property
    def on_time_ship_rate(self) -> float:
        return self.shipped_on_time / self.confirmed_shipments if self.confirmed_shipments else 0.0

    @property
    def on_time_ship_order_rate(self) -> float:
        return self.shipped_on_time_orders / self.shipped_orders if self.shipped_orders else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time_orders / self.promised_orders if self.promised_orders else 0.0

    @property
    def late_orders(self) -> int:
        return self.promised_orders - self.on_time_orders

    def value(self, name: str) -> float:
        """A KPI of ``GATED`` by name; KeyError when unknown."""
        if name not in GATED:
            raise KeyError(name)
        return float(getattr(self, name))

    def measured_over(self, name: str) -> int:
        """How many orders or shipments KPI ``name`` is measured over (0: not measured)."""
        return int(getattr(self, GATED[name]))

    def as_dict(self) -> dict[str, object]:
        return {
            "promised_orders": self.promised_orders,
            "on_time_orders": self.on_time_orders,
            "on_time_rate": round(self.on_time_rate, 6),
            "promised_days": round(self.promised_days, 6),
            "dated_orders": self.dated_orders,
            "delivery_days": round(self.delivery_days, 6),
            "late_by_cause": dict(self.late_by_cause),
            "confirmed_shipments": self.confirmed_shipments,
            "shipped_on_time": self.shipped_on_time,
            "on_time_ship_rate": round(self.on_time_ship_rate, 6),
            "shipped_orders": self.shipped_orders,
            "shipped_on_time_orders": self.shipped_on_time_orders,
            "on_time_ship_order_rate": round(self.on_time_ship_order_rate, 6),
        }


def _cause(o: Outcome) -> str | None:
    """Why a promised order is late (None: on time)."""
    if o.status is OutcomeStatus.HELD:
        return HELD
    if o.status is not OutcomeStatus.DECIDED:
        return FAILED
    if o.backordered:
        return BACKORDERED
    if o.delivery_day > o.promised_day:
        return AFTER_DATE
    return None


def on_time(outcomes: Sequence[Outcome]) -> OnTime:
    promised = [o for o in outcomes if o.promised_day]
    causes = Counter(_cause(o) for o in promised)
    dated = [o for o in outcomes if o.status is OutcomeStatus.DECIDED and o.delivery_day]
    shipped = [o for o in outcomes if o.shipped]
    return OnTime(
        promised_orders=len(promised),
        on_time_orders=causes[None],
        late_by_cause={cause: causes[cause] for cause in LATE_CAUSES},
        promised_days=_mean([o.promised_day - o.created_at.date().toordinal() for o in promised]),
        dated_orders=len(dated),
        delivery_days=_mean([o.delivery_day - o.created_at.date().toordinal() for o in dated]),
        confirmed_shipments=sum(len(o.shipped) for o in shipped),
        shipped_on_time=sum(left <= planned for o in shipped for planned, left in o.shipped),
        shipped_orders=len(shipped),
        shipped_on_time_orders=sum(all(left <= planned for planned, left in o.shipped) for o in shipped),
    )


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else 0.0
