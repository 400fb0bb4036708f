"""Reading and writing simulation inputs: network files, order histories and legacy decisions (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.model import Item
from engine.network import NetworkSnapshot
from engine.simulation.compare import LegacyDecision, legacy_from_record
from engine.simulation.history import HistoryError, HistoryOrder, order_from_record, record_from_order
from engine.simulation.stock import Stock
from server.network_file import NetworkFile, read_network_file
from server.store.base import UpdateKind


@dataclass(frozen=True)
class SimNetwork:
    file: NetworkFile
    snapshot: NetworkSnapshot
    catalogue: Mapping[str, Item]

    def fresh_stock(self) -> Stock:
        counts = ((u.node_id, u.sku, u.quantity) for u in self.file.inventory if u.kind is UpdateKind.ABSOLUTE)
        return Stock.from_counts(self.snapshot, counts)


def load_network(path: str | Path) -> SimNetwork:
    network = read_network_file(path)
    snapshot = NetworkSnapshot(
        network.nodes, rate_tables=network.rate_tables_in_force, currency=network.currency, version=Path(path).name
    )
    return SimNetwork(network, snapshot, {item.sku: item for item in network.items})


def _records(path: str | Path) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                try:
                    yield number, json.loads(text)
                except json.JSONDecodeError as error:
                    raise HistoryError(f"{path}:{number}: malformed JSON: {error.msg}") from None


def read_history(path: str | Path, catalogue: Mapping[str, Item]) -> list[HistoryOrder]:
    out = []
    seen: set[str] = set()
    for number, record in _records(path):
        try:
            entry = order_from_record(record, catalogue)
        except HistoryError as error:
            raise HistoryError(f"{path}:{number}: {error}") from None
        if entry.order.order_id in seen:
            raise HistoryError(f"{path}:{number}: order {entry.order.order_id} appears twice")
        seen.add(entry.order.order_id)
        out.append(entry)
    return out


def write_history(path: str | Path, history: Iterable[HistoryOrder]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for entry in history:
            handle.write(json.dumps(record_from_order(entry), separators=(",", ":")) + "\n")
            count += 1
    return count


def read_legacy(path: str | Path) -> list[LegacyDecision]:
    out = []
    for number, record in _records(path):
        try:
            out.append(legacy_from_record(record))
        except HistoryError as error:
            raise HistoryError(f"{path}:{number}: {error}") from None
    return out
