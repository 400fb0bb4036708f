"""Request keys: each mutating call's key, the request's hash and the answer stored for replays.

A key is claimed in the transaction of the change it names, and its answer stored in the same
transaction: a retry finds the first call's answer or nothing of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.errors import IdempotencyKeyConflict
from server.store.base import RequestKey
from server.store.order_rows import OrderRowsMixin

if TYPE_CHECKING:
    from server.store.sql import Tx


class RequestKeysMixin(OrderRowsMixin):
    def replay(self, key: RequestKey) -> bytes | None:
        """The stored response for ``key`` (None if unused); a different request raises."""
        found = self._read(
            lambda tx: tx.execute(
                "SELECT method, request_hash, response FROM idempotency_keys WHERE key = ?", (key.key,)
            )
        )
        return _stored(key, found)

    def _claim(self, tx: Tx, key: RequestKey, now: datetime) -> bytes | None:
        """Take ``key`` in this transaction, or return the response stored under it.

        The INSERT makes a concurrent duplicate wait on this row until we commit (PostgreSQL) or
        queue on the write lock (SQLite); it then finds our stored response.
        """
        inserted = tx.execute(
            "INSERT INTO idempotency_keys (key, method, request_hash, response, created_at) "
            "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (key) DO NOTHING RETURNING key",
            (key.key, key.method, key.request_hash, self._ts_in(now)),
        )
        if inserted:
            return None
        found = tx.execute("SELECT method, request_hash, response FROM idempotency_keys WHERE key = ?", (key.key,))
        stored = _stored(key, found)
        if stored is None:  # only a row written outside this code can lack its response
            raise RuntimeError(f"request key {key.key!r} has no stored response")
        return stored

    def _finish(self, tx: Tx, key: RequestKey, response: bytes) -> bytes:
        tx.execute("UPDATE idempotency_keys SET response = ? WHERE key = ?", (response, key.key))
        return response

    def _claim_with_response(self, tx: Tx, key: RequestKey, response: bytes, now: datetime) -> None:
        """Take ``key`` with its response in one statement, last in the transaction.

        For Allocate, whose order row already excludes a duplicate: a claim up front plus a
        finishing UPDATE cost a statement more. A plain INSERT, sent without waiting: when the
        key is taken (by another request, or a duplicate racing ahead) its unique violation
        fails the transaction, at the latest at COMMIT, so a pipelined PostgreSQL transaction
        needs no round trip of its own for it. ``_key_taken`` recognizes that error.
        """
        tx.defer(
            "INSERT INTO idempotency_keys (key, method, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
            (key.key, key.method, key.request_hash, response, self._ts_in(now)),
        )

    def _key_taken(self, error: Exception) -> bool:
        """Whether ``error`` is the unique violation of an idempotency key (dialects say)."""
        return False

    def remember_response(self, key: RequestKey, response: bytes, now: datetime) -> bytes:
        """Store ``response`` under ``key`` unless a duplicate stored its own first: the stored one."""

        def work(tx: Tx) -> bytes:
            stored = self._claim(tx, key, now)
            return stored if stored is not None else self._finish(tx, key, response)

        return self._write(work)

    def purge_request_keys(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` request keys (and their stored responses) created before
        ``created_before``, oldest first, in one short transaction; how many went."""
        stamp = self._ts_in(created_before)

        def work(tx: Tx) -> int:
            gone = tx.execute(
                "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys"
                " WHERE created_at < ? ORDER BY created_at LIMIT ?) RETURNING key",
                (stamp, limit),
            )
            return len(gone)

        return self._write(work)


def _stored(key: RequestKey, found: Sequence[Sequence[Any]]) -> bytes | None:
    if not found:
        return None
    method, request_hash, response = found[0]
    if method != key.method or request_hash != key.request_hash:
        raise IdempotencyKeyConflict(key.key, str(method))
    return None if response is None else bytes(response)
