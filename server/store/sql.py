"""What the SQL adapters and their parts share: the transaction they are handed and the inventory key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

Key = tuple[str, str]  # (sku, node_id): the inventory primary key, and the order rows are locked in


class Tx(Protocol):
    """One open transaction (or autocommit session for reads)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; the rows it returned (empty for statements that return none)."""
        ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...

    def defer(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], list[tuple[Any, ...]]]:
        """Send one statement; its rows when the returned function is called (a pipelined
        PostgreSQL transaction waits for them only then). Errors surface by that call or commit."""
        ...
