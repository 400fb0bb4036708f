"""Allocate keeps the option a customer chose, or says it cannot (docs/promise.md, "Allocate
and the chosen option").

An order carrying a promise (checkout's carrier service and date) is decided by it. When that
leaves units unfilled that a decision without the date would ship (stock moved since checkout:
the nodes left holding it deliver later), the order is not stored silently later: it is HELD in
the exception queue with a hold of rule id ``LATE`` whose reason gives both dates, and reserves
nothing until a person releases it (ReleaseHold then sources it without the date) or cancels it.
Units no node holds at all are a plain backorder, as for any order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.directives import Hold
from engine.model import Order
from engine.orders.lifecycle import Action
from engine.orders.records import OrderRecord
from engine.promise.time_rules import day_words
from server.api.convert.order_promise import past_promise_problems
from server.api.decider import Decider, Outcome

LATE_HOLD = "LATE"  # the rule id of the hold a late order waits under (ListExceptions rule_id=LATE)


def _filled(outcome: Outcome) -> int:
    return sum(a.qty for a in outcome.decision.allocations)


def keep_or_hold_late(decider: Decider, order: Order, outcome: Outcome, now: datetime, time_limit_ms: int) -> Outcome:
    """``outcome`` as decided, or, when the promised date is what leaves units unfilled, the same
    decision with a LATE hold (the order is then stored HELD, nothing reserved)."""
    promised = order.earliest_promised_date
    if promised is None or not outcome.decision.unfilled or outcome.decision.holds:
        return outcome
    later = decider.decide(order.without_dates(), time_limit_ms=time_limit_ms, now=now, explain=False)
    if _filled(later) <= _filled(outcome):
        return outcome  # a shortage, not a late promise
    when = later.decision.cost.delivery_day
    arrives = f"; the stock left would deliver {day_words(when)}" if when else ""
    reason = f"cannot keep the promised {day_words(promised.toordinal())} ({promised.isoformat()}){arrives}"
    return replace(outcome, decision=replace(outcome.decision, holds=(Hold(LATE_HOLD, reason),)))


def order_to_resource(original: Order, record: OrderRecord, action: Action, now: datetime) -> Order:
    """The stored order as re-sourcing decides it: without its date once a person released it
    from a LATE hold (late accepted), or once the date is past (late whatever happens)."""
    if original.earliest_promised_date is None:
        return original
    released_late = action is Action.RELEASE_HOLD and any(rule_id == LATE_HOLD for rule_id, _ in record.holds)
    if released_late or past_promise_problems(original, now):
        return original.without_dates()
    return original
