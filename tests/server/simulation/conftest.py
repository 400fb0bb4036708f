"""A hand-made network and a 3-order history whose KPIs can be worked out on paper.

Every node sits at the ship-to point (distance 0: STANDARD zone 1, base 5.00 + 0.30/lb):
DC-A (pick/pack 1.00, handling 0.20/unit) holds A x5 and C x1; ST-B (3.00, 0.50) holds B x4.
1. A x2 (1 lb each)  -> DC-A: 1.00 + 5.00 + 0.60 + 0.40 = 7.00
2. A x1, B x1         -> DC-A 6.50 + ST-B (3.00 + 5.00 + 0.30 + 0.50 = 8.80): a split, 15.30
3. C x3               -> DC-A ships the 1 it has (6.50), 2 backordered
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

LAT, LON = 40.0, -90.0

NETWORK: dict[str, Any] = {
    "format": "oms-sourcing/network@1",
    "currency": "USD",
    "as_of": "2026-11-01T00:00:00Z",
    "nodes": [
        {"id": "DC-A", "type": "DC", "lat": LAT, "lon": LON, "pick_pack_cost": 1.0, "unit_handling_cost": 0.2},
        {
            "id": "ST-B",
            "type": "STORE",
            "lat": LAT,
            "lon": LON,
            "pick_pack_cost": 3.0,
            "unit_handling_cost": 0.5,
            "max_shipments": 1,
        },
    ],
    "items": [{"sku": s, "unit_weight_lb": 1.0} for s in ("A", "B", "C")],
    "inventory": [
        {"node_id": "DC-A", "sku": "A", "on_hand": 5},
        {"node_id": "DC-A", "sku": "C", "on_hand": 1},
        {"node_id": "ST-B", "sku": "B", "on_hand": 4},
    ],
}


def order(order_id: str, created_at: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "created_at": created_at,
        "ship_to": {"lat": LAT, "lon": LON},
        "channel": "WEB",
        "lines": [{"line_id": f"L{i}", "sku": sku, "qty": qty} for i, (sku, qty) in enumerate(lines, 1)],
    }


HISTORY = [
    order("O-3", "2026-11-01T12:00:00Z", ("C", 3)),
    order("O-1", "2026-11-01T08:00:00Z", ("A", 2)),  # listed out of time order on purpose
    order("O-2", "2026-11-01T09:30:00+00:00", ("A", 1), ("B", 1)),
]

NO_STORE_B = """format: oms-sourcing/rules@1
rules:
  - id: no-store-b
    why: a test rule that changes order O-2
    then:
      exclude: {node: {id: [ST-B]}, reason: test}
"""


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    network = tmp_path / "network.json"
    network.write_text(json.dumps(NETWORK), encoding="utf-8")
    rules = tmp_path / "no-store-b.yaml"
    rules.write_text(NO_STORE_B, encoding="utf-8")
    return {"network": network, "history": write_jsonl(tmp_path / "history.jsonl", HISTORY), "rules": rules}
