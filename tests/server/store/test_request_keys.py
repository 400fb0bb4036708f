"""Request keys past their retention are purged, oldest first, a bounded batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.store.base import RequestKey, Store

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _store_key(store: Store, key: str, at: datetime) -> None:
    orders = store  # the order store's mixin: claim the key and store a response, as a call does
    request = RequestKey(key, "Cancel", "h")

    def work(tx: object) -> None:
        assert orders._claim(tx, request, at) is None  # type: ignore[attr-defined]
        orders._finish(tx, request, f"response {key}".encode())  # type: ignore[attr-defined]

    orders._write(work)  # type: ignore[attr-defined]


def test_keys_older_than_the_cutoff_go_oldest_first_in_batches(store: Store) -> None:
    for hour in range(5):
        _store_key(store, f"k{hour}", T0 + timedelta(hours=hour))
    cutoff = T0 + timedelta(hours=3, minutes=30)  # k0-k3 are older
    purge = store.purge_request_keys  # type: ignore[attr-defined]
    assert purge(cutoff, 3) == 3
    replay = store.replay  # type: ignore[attr-defined]
    assert [replay(RequestKey(f"k{h}", "Cancel", "h")) for h in range(5)] == [
        None,
        None,
        None,
        b"response k3",
        b"response k4",
    ], "the three oldest went first"
    assert purge(cutoff, 3) == 1 and purge(cutoff, 3) == 0
    assert replay(RequestKey("k4", "Cancel", "h")) == b"response k4"
