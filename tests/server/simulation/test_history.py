from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.history import make_history
from engine.simulation.history import HistoryError, order_from_record, record_from_order
from engine.simulation.kpis import compute_kpis
from engine.simulation.replay import replay
from server.simulation.files import load_network, read_history, write_history
from server.simulation.outputs import kpi_record

SAMPLE = Path(__file__).parents[3] / "data" / "sample-network.json"


def test_records_round_trip_and_take_missing_fields_from_the_catalogue(files: dict[str, Path]) -> None:
    network = load_network(files["network"])
    record = {
        "order_id": "R-1",
        "created_at": "2026-11-02T10:00:00-05:00",
        "ship_to": {"lat": 41.9, "lon": -87.6, "country": "US", "region": "US-IL"},
        "channel": "APP",
        "service_level": "express",
        "customer": {"id": "C1", "tier": "GOLD"},
        "currency": "USD",
        "attributes": {"fraud_score": 12},
        "lines": [{"line_id": "1", "sku": "A", "qty": 2, "unit_price": 19.5}],
    }
    entry = order_from_record(record, network.catalogue)
    assert entry.created_at.isoformat() == "2026-11-02T15:00:00+00:00"
    order = entry.order
    assert order.service_level == "EXPRESS" and order.lines[0].unit_weight_lb == 1.0
    assert order.attributes["customer_tier"] == "GOLD" and order.attributes["ship_to_region"] == "US-IL"
    assert order.lines[0].attributes["unit_price"] == "19.5"
    assert order_from_record(record_from_order(entry), network.catalogue) == entry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"created_at": "2026-11-02T10:00:00"}, "created_at"),
        ({"lines": [{"sku": "ZZZ", "qty": 1}]}, "unit_weight_lb"),
        ({"lines": [{"sku": "A", "qty": 0}]}, "qty"),
        ({"delivery_method": "DRONE"}, "delivery_method"),
    ],
)
def test_bad_records_name_the_field(files: dict[str, Path], change: dict[str, object], message: str) -> None:
    network = load_network(files["network"])
    record = {"order_id": "R-1", "created_at": "2026-11-02T10:00:00Z", "ship_to": {"lat": 1, "lon": 2},
              "lines": [{"sku": "A", "qty": 1}], **change}  # fmt: skip
    with pytest.raises(HistoryError, match=message):
        order_from_record(record, network.catalogue)


def test_same_seed_same_file_and_same_numbers(tmp_path: Path) -> None:
    network = load_network(SAMPLE)
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.jsonl"
        write_history(path, make_history(network.file, 300, 10, seed=42))
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = tmp_path / "c.jsonl"
    write_history(other, make_history(network.file, 300, 10, seed=43))
    assert other.read_bytes() != paths[0].read_bytes()

    history = read_history(paths[0], network.catalogue)
    runs = [kpi_record(compute_kpis(replay(history, network.snapshot, network.fresh_stock()), network.snapshot))
            for _ in range(2)]  # fmt: skip
    assert json.dumps(runs[0]) == json.dumps(runs[1])
    assert runs[0]["orders"] == 300


def test_promised_dates_are_given_apart_from_everything_else() -> None:
    """--promised-share: standard shipped orders only, 3-7 days out; the rest of the history unchanged."""
    network = load_network(SAMPLE)
    plain = make_history(network.file, 600, 10, seed=5)
    promised = make_history(network.file, 600, 10, seed=5, promised_share=0.3)
    assert [replace(h.order, promised_date=None) for h in promised] == [h.order for h in plain]
    assert [h.created_at for h in promised] == [h.created_at for h in plain]
    dated = [h for h in promised if h.order.promised_date is not None]
    assert 0.15 * len(promised) < len(dated) < 0.35 * len(promised)
    for h in dated:
        assert h.order.service_level == "STANDARD" and h.order.delivery_method.value == "SHIP"
        assert 3 <= (h.order.promised_date - h.created_at.date()).days <= 7
    assert all(h.order.promised_date is None for h in plain)


def test_generated_history_has_channels_methods_and_peaks(tmp_path: Path) -> None:
    network = load_network(SAMPLE)
    history = make_history(network.file, 3000, 30, seed=1)
    channels = {h.order.channel for h in history}
    assert {"WEB", "APP", "MARKETPLACE"} <= channels
    assert {h.order.delivery_method.value for h in history} == {"SHIP", "PICKUP"}
    assert [h.created_at for h in history] == sorted(h.created_at for h in history)
    per_day: dict[object, int] = {}
    for h in history:
        per_day[h.created_at.date()] = per_day.get(h.created_at.date(), 0) + 1
    busiest = max(per_day, key=lambda d: per_day[d])
    assert str(busiest) in ("2026-11-27", "2026-11-30")  # Black Friday or Cyber Monday
    skus: dict[str, int] = {}
    for h in history:
        for line in h.order.lines:
            skus[line.sku] = skus.get(line.sku, 0) + 1
    counts = sorted(skus.values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]  # a long tail


def test_the_stand_in_legacy_system_decides_every_order_validly() -> None:
    from benchmarks.legacy import legacy_decisions
    from engine.simulation.compare import legacy_from_record, legacy_outcomes

    network = load_network(SAMPLE)
    history = make_history(network.file, 400, 5, seed=3)
    records = legacy_decisions(history, network.snapshot, network.fresh_stock(), restock_every_days=2)
    assert [r["order_id"] for r in records] == [h.order.order_id for h in history]
    outcomes, problems = legacy_outcomes(history, [legacy_from_record(r) for r in records], network.snapshot)
    assert problems == [] and len(outcomes) == 400
