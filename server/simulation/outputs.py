"""A simulation's results as files: kpis.json (every number), orders.csv (every order, every side)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.network import NetworkSnapshot
from engine.simulation.compare import Change, Divergence, describe_plan
from engine.simulation.gate import Verdict
from engine.simulation.kpis import Kpis, deltas
from engine.simulation.replay import Outcome

# `simulate run` and `report` exit with it when a --fail-if threshold fails.
EXIT_GATE_FAILED = 3


@dataclass(frozen=True)
class SideResult:
    name: str
    description: str
    outcomes: list[Outcome]
    kpis: Kpis


@dataclass
class SimulationResult:
    snapshot: NetworkSnapshot
    sides: list[SideResult]  # the baseline first
    candidate: str | None  # the side deltas are measured for (compare, else legacy)
    changes: list[Change] = field(default_factory=list)  # baseline vs compare
    divergences: list[Divergence] = field(default_factory=list)  # baseline vs legacy
    verdicts: list[Verdict] = field(default_factory=list)
    rule_edits: dict[str, str] = field(default_factory=dict)  # rule id -> added/removed/changed, baseline -> candidate
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> SideResult:
        return self.sides[0]

    def side(self, name: str | None) -> SideResult | None:
        return next((s for s in self.sides if s.name == name), None)

    @property
    def counts(self) -> dict[str, int]:
        return {"decisions_changed": len(self.changes), "divergences": len(self.divergences)}

    @property
    def failed(self) -> bool:
        return any(v.failed for v in self.verdicts)


def kpi_record(k: Kpis) -> dict[str, Any]:
    return {
        **{name: round(value, 6) for name, value in k.headline().items()},
        "orders": k.orders,
        "decided_orders": k.decided_orders,
        "units_ordered": k.units_ordered,
        "units_allocated": k.units_allocated,
        "shipments": k.shipments,
        "split_orders": k.split_orders,
        "days": k.days,
        "zone_mix": {str(z): round(share, 6) for z, share in k.zone_mix.items()},
        "rules_fired": k.rules_fired,
        "nodes": [
            {
                "node_id": n.node_id,
                "shipments": n.shipments,
                "units": n.units,
                "cost": round(n.cost, 4),
                "utilization": None if n.utilization is None else round(n.utilization, 6),
                "breach_days": n.breach_days,
            }
            for n in k.nodes
        ],
    }


def kpis_document(result: SimulationResult) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "run": result.run,
        "sides": {
            s.name: {"description": s.description, **kpi_record(s.kpis), "promise": s.kpis.promise.as_dict()}
            for s in result.sides
        },
        "baseline": result.base.name,
        "candidate": result.candidate,
        "rule_edits": result.rule_edits,
        **result.counts,
    }
    other = result.side(result.candidate)
    if other is not None:
        doc["deltas"] = {
            d.name: {
                "base": round(d.base, 6),
                "candidate": round(d.other, 6),
                "change": round(d.change, 6),
                "relative": None if d.relative is None else round(d.relative, 6),
            }
            for d in deltas(result.base.kpis, other.kpis)
        }
    doc["fail_if"] = [
        {"threshold": v.threshold.text, "measured": v.measured, "failed": v.failed, "explanation": v.explanation}
        for v in result.verdicts
    ]
    return doc


def write_kpis(path: Path, result: SimulationResult) -> None:
    path.write_text(json.dumps(kpis_document(result), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_orders_csv(path: Path, result: SimulationResult, sides: Sequence[SideResult] | None = None) -> None:
    """One row per order: for each side its status, plan, cost, shipments, backorders and rules."""
    sides = list(sides or result.sides)
    by_side = [{o.order_id: o for o in s.outcomes} for s in sides]
    changed = {c.order_id for c in result.changes}
    diverged = {d.order_id: d.kind for d in result.divergences}
    header = ["order_id", "created_at", "lat", "lon", "units", "changed", "legacy_divergence"]
    for s in sides:
        header += [f"{s.name}_{c}" for c in ("status", "plan", "cost", "shipments", "backordered", "miles", "rules")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for o in result.base.outcomes:
            row: list[Any] = [
                o.order_id, o.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), o.lat, o.lon, o.units,
                int(o.order_id in changed), diverged.get(o.order_id, ""),
            ]  # fmt: skip
            for side in by_side:
                x = side.get(o.order_id)
                if x is None:
                    row += ["", "", "", "", "", "", ""]
                    continue
                row += [
                    x.status.value, describe_plan(x), f"{x.cost:.4f}", len(x.shipments), x.backordered,
                    f"{sum(s.distance_miles for s in x.shipments):.1f}", " ".join(x.fired_rules),
                ]  # fmt: skip
            writer.writerow(row)
