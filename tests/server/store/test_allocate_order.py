"""allocate_order's fast path, on both stores: statements sent before their results are looked at
(pipelined on PostgreSQL), the request key taken last with its response. Every way a call can find
its order id or key taken must roll back all it wrote, then replay or refuse as before."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from engine.decision import AllocationLine
from engine.orders import answers
from engine.orders.records import NewOrder
from server.errors import IdempotencyKeyConflict, OrderExistsError, ReservationConflict
from server.store import order_rows
from server.store.base import RequestKey, Store
from tests.server.store.test_contract import absolute, network, node  # noqa: F401 - network is a fixture

Allocations = Sequence[AllocationLine]
NOW = datetime.now(UTC)  # holds (an hour) are live when stock is read at the real time
HOLD_MS = 3_600_000


def _new(order_id: str, qty: int = 2) -> NewOrder:
    return NewOrder(order_id, "{}", (("L1", "A", qty),), HOLD_MS, "rs", "{}", f"d-{order_id}")


def _take(qty: int, node_id: str = "DC1") -> Allocations:
    return [AllocationLine("L1", node_id, "A", qty)]


def _allocate(store: Store, key: str, new: NewOrder, allocations: Allocations, request_hash: str = "h") -> bytes:
    return store.allocate_order(  # type: ignore[attr-defined, no-any-return]
        RequestKey(key, "Allocate", request_hash), new, allocations, NOW, b"decision"
    )


def _counts(store: Store) -> tuple[int, int, int, int]:
    def read(tx: object) -> tuple[int, int, int, int]:
        run = tx.execute  # type: ignore[attr-defined]
        tables = ("orders", "order_lines", "reservations", "idempotency_keys")
        return tuple(int(run(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables)  # type: ignore[return-value]

    return store._read(read)  # type: ignore[attr-defined, no-any-return]


def _reserved(store: Store) -> int:
    return next(p.reserved for p in store.get_availability(["A"], ["DC1"]))


@pytest.fixture
def stocked(network: Store) -> Store:  # noqa: F811 - the fixture above
    network.update_inventory([absolute("DC1", "A", 3)])
    return network


def test_a_retry_replays_even_when_its_stock_is_gone(stocked: Store) -> None:
    first = _allocate(stocked, "k1", _new("O-1", 3), _take(3))
    # The retry's reservation would now be short: it must still replay, not count as a lost race.
    assert _allocate(stocked, "k1", _new("O-1", 3), _take(3)) == first
    assert _counts(stocked) == (1, 1, 1, 1) and _reserved(stocked) == 3


def test_a_key_taken_by_another_request_rolls_back_everything(stocked: Store) -> None:
    _allocate(stocked, "k1", _new("O-1", 1), _take(1))
    with pytest.raises(IdempotencyKeyConflict):
        _allocate(stocked, "k1", _new("O-2", 1), _take(1), request_hash="other")
    assert _counts(stocked) == (1, 1, 1, 1) and _reserved(stocked) == 1


def test_an_existing_order_id_under_a_new_key_changes_nothing(stocked: Store) -> None:
    _allocate(stocked, "k1", _new("O-1", 1), _take(1))
    with pytest.raises(OrderExistsError):
        _allocate(stocked, "k2", _new("O-1", 1), _take(1))
    with pytest.raises(OrderExistsError):  # and when its stock would be short too
        _allocate(stocked, "k3", _new("O-1", 3), _take(3))
    assert _counts(stocked) == (1, 1, 1, 1) and _reserved(stocked) == 1


def test_a_short_position_rolls_back_the_whole_order(stocked: Store) -> None:
    with pytest.raises(ReservationConflict):
        _allocate(stocked, "k1", _new("O-1", 4), _take(4))
    assert _counts(stocked) == (0, 0, 0, 0) and _reserved(stocked) == 0
    # Nothing of it was kept (the key neither), and the connection is clean for the next call.
    first = _allocate(stocked, "k1", _new("O-1", 3), _take(3))
    assert _allocate(stocked, "k1", _new("O-1", 3), _take(3)) == first
    assert _counts(stocked) == (1, 1, 1, 1) and _reserved(stocked) == 3


def test_concurrent_duplicates_and_rivals_one_effect_each(stocked: Store) -> None:
    start = threading.Barrier(12)

    def call(i: int) -> bytes | str:
        start.wait()
        order_id = "O-dup" if i < 8 else f"O-{i}"
        try:
            return _allocate(stocked, "dup" if i < 8 else f"k{i}", _new(order_id, 1), _take(1))
        except ReservationConflict:
            return "short"

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(call, range(12)))
    # Every duplicate has the one outcome: the same stored answer, or, when three rivals took the
    # three units before any duplicate reached the stock, the same refusal (stock never comes back).
    assert len(set(answers[:8])) == 1
    winners = [a for a in answers[8:] if a != "short"]
    # 3 units: the duplicate's one and two of the four rivals, or three rivals.
    assert len(winners) == (2 if answers[0] != "short" else 3)
    orders, lines, holds, keys = _counts(stocked)
    assert orders == lines == holds == keys == 3 and _reserved(stocked) == 3
    assert stocked.check_conservation() == ([], 1)  # type: ignore[attr-defined]


def test_many_lines_and_holds_in_chunked_statements(network: Store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(order_rows, "_ROWS_PER_INSERT", 7)  # several chunks, the last one short
    network.upsert_nodes([node("DC2")])
    skus = [f"S{i:03d}" for i in range(120)]
    network.update_inventory([absolute(n, s, 5) for s in skus for n in ("DC1", "DC2")])
    new = NewOrder("O-big", "{}", tuple((f"L{i:03d}", s, 4) for i, s in enumerate(skus)), HOLD_MS, "rs", "{}", "d")
    split = [AllocationLine(f"L{i:03d}", n, s, 2) for i, s in enumerate(skus) for n in ("DC1", "DC2")]
    first = _allocate(network, "big", new, split)
    answer = answers.unpack(first)
    assert answer is not None and answer.attachment == b"decision"
    assert [x.reserved for x in answer.record.lines] == [4] * 120 and len(answer.record.reservations) == 240
    assert _allocate(network, "big", new, split) == first
    assert _counts(network) == (1, 120, 240, 1)
    assert network.check_conservation()[0] == []  # type: ignore[attr-defined]
