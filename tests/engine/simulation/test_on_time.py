"""On-time KPIs of a replay (engine/simulation/on_time.py): orders decided at their own instant,
shipments dated, promised orders on time or late by cause; a history record's promise read back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from engine.model import Order, OrderLine
from engine.simulation.history import HistoryOrder, order_from_record, record_from_order
from engine.simulation.on_time import AFTER_DATE, BACKORDERED, HELD, on_time
from engine.simulation.replay import OutcomeStatus, replay
from engine.simulation.stock import Stock
from tests.engine.test_promise_sourcing import SHIP_TO, _two_stores

FRIDAY_1430_CST = datetime(2026, 12, 4, 20, 30, tzinfo=UTC)


def _order(order_id: str, promised: date | None) -> HistoryOrder:
    return HistoryOrder(
        FRIDAY_1430_CST, Order(order_id, SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),), promised_date=promised)
    )


def test_a_replay_dates_every_order_and_counts_promises_kept() -> None:
    snapshot = _two_stores()  # ST-003: delivers Wed 9 Dec; DC-001: Tue 8 Dec (ordered Friday 14:30 CST)
    stock = Stock(snapshot, ["SKU"], np.array([[5, 5]]))  # snapshot order: DC-001, ST-003
    history = [
        _order("A-kept", date(2026, 12, 8)),  # the DC makes it
        _order("B-too-soon", date(2026, 12, 7)),  # nobody does: backordered
        _order("C-plain", None),  # the store, by cost; dated only
    ]
    outcomes = {o.order_id: o for o in replay(history, snapshot, stock)}
    assert [a.node_id for a in outcomes["A-kept"].allocations] == ["DC-001"]
    assert outcomes["A-kept"].delivery_day == date(2026, 12, 8).toordinal()
    assert outcomes["B-too-soon"].backordered == 1
    assert outcomes["C-plain"].delivery_day == date(2026, 12, 9).toordinal()

    kpis = on_time(list(outcomes.values()))
    assert (kpis.promised_orders, kpis.on_time_orders, kpis.on_time_rate) == (2, 1, 0.5)
    assert kpis.late_by_cause[BACKORDERED] == 1 and kpis.late_by_cause[AFTER_DATE] == kpis.late_by_cause[HELD] == 0
    assert kpis.promised_days == (4 + 3) / 2  # Friday 4 Dec to Tue 8 and Mon 7
    assert kpis.dated_orders == 2 and kpis.delivery_days == (4 + 5) / 2  # Tue 8 and Wed 9


def test_late_and_held_orders_are_counted_by_cause() -> None:
    from dataclasses import replace

    snapshot = _two_stores()
    stock = Stock(snapshot, ["SKU"], np.array([[5, 5]]))
    (decided,) = replay([_order("A", date(2026, 12, 8))], snapshot, stock)
    late = replace(decided, order_id="L", delivery_day=date(2026, 12, 10).toordinal())
    held = replace(decided, order_id="H", status=OutcomeStatus.HELD)
    kpis = on_time([decided, late, held])
    assert (kpis.on_time_orders, kpis.late_by_cause[AFTER_DATE], kpis.late_by_cause[HELD]) == (1, 1, 1)


def test_a_history_record_keeps_its_promise() -> None:
    entry = _order("A", date(2026, 12, 8))
    entry = HistoryOrder(entry.created_at, replace_service(entry.order))
    record = record_from_order(entry)
    assert (record["promised_date"], record["carrier_service"]) == ("2026-12-08", "GROUND")
    back = order_from_record(record, {})
    assert (back.order.promised_date, back.order.carrier_service) == (date(2026, 12, 8), "GROUND")


def replace_service(order: Order) -> Order:
    from dataclasses import replace

    return replace(order, carrier_service="GROUND")
