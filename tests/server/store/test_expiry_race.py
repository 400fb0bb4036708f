"""Two transactions expiring the same hold (the sweeper, and a reservation that found the stock
short) give its units back once, on both stores.

On PostgreSQL (read committed) the second transaction read the hold before the first committed,
then waited for the inventory row the first had updated: it used to subtract the units from
``reserved`` a second time, so the node looked to have stock it had promised.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from server.store.base import Store
from tests.server.store.test_contract import T0, absolute, network  # noqa: F401 - network is a fixture
from tests.server.store.test_inventory_shortfall import NOW, _allocate, _conserved, _order


def test_a_hold_expired_by_two_transactions_at_once_gives_its_units_back_once(network: Store) -> None:  # noqa: F811
    network.update_inventory([absolute("DC1", "A", 10, T0 - timedelta(days=1))], now=NOW)
    _allocate(network, "O-1", 4, hold_ms=60_000)
    later = NOW + timedelta(minutes=5)
    first_expired = threading.Event()
    let_first_commit = threading.Event()
    outcome: dict[str, object] = {}

    def first(tx: object) -> None:
        outcome["first"] = network._expire(tx, later)  # type: ignore[attr-defined]
        first_expired.set()
        let_first_commit.wait(10)

    def second() -> None:
        first_expired.wait(10)
        outcome["second"] = network._write(  # type: ignore[attr-defined]
            lambda tx: network._expire(tx, later, keys=[("A", "DC1")])  # type: ignore[attr-defined]
        )

    sweeper = threading.Thread(target=lambda: network._write(first))  # type: ignore[attr-defined]
    other = threading.Thread(target=second)
    sweeper.start()
    other.start()
    first_expired.wait(10)
    time.sleep(0.3)  # the second has read the hold and waits for the first (PostgreSQL) or its lock (SQLite)
    let_first_commit.set()
    sweeper.join(20)
    other.join(20)

    assert outcome["first"] == (1, ["O-1"])
    assert outcome["second"] == (0, [])  # nothing was left for it to expire
    assert _conserved(network) == []
    [position] = network.get_availability(["A"], ["DC1"])  # type: ignore[attr-defined]
    assert (position.on_hand, position.reserved) == (10, 0)
    assert [e.type for e in _order(network, "O-1", later).events].count("EXPIRED") == 1
