from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from engine.simulation.history import HistoryOrder
from engine.simulation.kpis import compute_kpis, deltas
from engine.simulation.replay import OutcomeStatus, replay
from server.simulation.files import load_network, read_history


def test_kpis_of_the_hand_made_history(files: dict[str, Path]) -> None:
    network = load_network(files["network"])
    stock = network.fresh_stock()
    outcomes = replay(read_history(files["history"], network.catalogue), network.snapshot, stock)

    assert [o.order_id for o in outcomes] == ["O-1", "O-2", "O-3"]  # replayed in time order
    assert [round(o.cost, 6) for o in outcomes] == [7.0, 15.3, 6.5]
    k = compute_kpis(outcomes, network.snapshot)
    assert (k.orders, k.decided_orders, k.held_orders, k.failed_orders) == (3, 3, 0, 0)
    assert k.total_cost == pytest.approx(28.8)
    assert k.cost_per_order == pytest.approx(9.6)
    assert k.cost_per_unit == pytest.approx(28.8 / 5)
    assert (k.units_ordered, k.units_allocated, k.backordered_units) == (7, 5, 2)
    assert k.fill_rate == pytest.approx(5 / 7)
    assert k.shipments == 4 and k.shipments_per_order == pytest.approx(4 / 3)
    assert k.split_rate == pytest.approx(1 / 3)
    assert k.zone_mix == {1: 1.0}
    assert k.miles_per_shipment == pytest.approx(0.0)
    assert {n.node_id: (n.shipments, n.units) for n in k.nodes} == {"DC-A": (3, 4), "ST-B": (1, 1)}
    # ST-B may send 1 parcel a day: it sent 1 on one day, so it used all of its capacity, no breach
    st_b = next(n for n in k.nodes if n.node_id == "ST-B")
    assert st_b.utilization == pytest.approx(1.0) and st_b.breach_days == 0
    # stock was consumed: DC-A had A x5 and C x1
    row = stock.row
    assert stock.units[row["A"], network.snapshot.index["DC-A"]] == 2
    assert stock.units[row["C"], network.snapshot.index["DC-A"]] == 0


def test_stock_runs_out_and_restocking_refills_it(files: dict[str, Path]) -> None:
    network = load_network(files["network"])
    history = read_history(files["history"], network.catalogue)
    # the same three orders again, a week later: C is gone, so O-3 fills nothing the second time
    later = [_copy(h, h.order.order_id + "b", h.created_at.replace(day=8)) for h in history]
    plain = replay(history + later, network.snapshot, network.fresh_stock())
    assert [o.allocated for o in plain if o.order_id == "O-3b"] == [0]
    restocked = replay(history + later, network.snapshot, network.fresh_stock(), restock_every_days=7)
    assert [o.allocated for o in restocked if o.order_id == "O-3b"] == [1]


def test_daily_capacity_excludes_a_full_node(files: dict[str, Path]) -> None:
    network = load_network(files["network"])
    history = read_history(files["history"], network.catalogue)
    twice = history + [_copy(h, "X-2", h.created_at) for h in history if h.order.order_id == "O-2"]
    outcomes = {o.order_id: o for o in replay(twice, network.snapshot, network.fresh_stock())}
    # ST-B ships 1 parcel a day: the second order for B the same day cannot use it
    assert outcomes["X-2"].status is OutcomeStatus.DECIDED
    assert outcomes["X-2"].backordered == 1
    assert "ST-B" not in {s.node_id for s in outcomes["X-2"].shipments}


def test_deltas_are_candidate_minus_base(files: dict[str, Path]) -> None:
    network = load_network(files["network"])
    history = read_history(files["history"], network.catalogue)
    k = compute_kpis(replay(history, network.snapshot, network.fresh_stock()), network.snapshot)
    k2 = compute_kpis(replay(history[:2], network.snapshot, network.fresh_stock()), network.snapshot)
    d = {x.name: x for x in deltas(k, k2)}
    assert d["orders"].change == -1
    assert d["cost_per_order"].relative == pytest.approx(((7.0 + 6.5) / 2 - 9.6) / 9.6)


def _copy(entry: HistoryOrder, order_id: str, created_at: datetime) -> HistoryOrder:
    return HistoryOrder(created_at, dataclasses.replace(entry.order, order_id=order_id))
