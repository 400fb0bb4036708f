"""The checks a network write must pass against what is stored, made on plain values: the SQL store
runs them inside its transaction and the memory store under its lock, so both refuse alike."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from engine.errors import Violations
from engine.promise.model import CarrierService, NodeSchedule, cutoff_problems, serves_standard
from engine.rates import DEFAULT_SERVICE_LEVEL
from server.errors import MissingStandardRateError


def check_rate_tables(stored_levels: Collection[str]) -> None:
    """Stored tables replace the defaults, so the stored set must hold STANDARD (nothing deletes a
    table, so it stays once there)."""
    if DEFAULT_SERVICE_LEVEL not in stored_levels:
        raise MissingStandardRateError(DEFAULT_SERVICE_LEVEL)


def check_carrier_services(stored: Sequence[CarrierService], schedules: Sequence[NodeSchedule]) -> None:
    """The whole stored set after a write: it replaces the defaults, so it must serve STANDARD, and
    every stored node's cut-offs must still be shippable."""
    v = Violations()
    if not serves_standard(stored):
        v.add(
            "carrier_services",
            f"the stored carrier services would serve no {DEFAULT_SERVICE_LEVEL} orders: include a service "
            f"of service_level {DEFAULT_SERVICE_LEVEL!r}, because stored services replace the defaults",
        )
    by_id = {s.id: s for s in stored}
    for schedule in schedules:
        for problem in cutoff_problems(schedule, by_id):
            if not problem.description.startswith("names unknown"):  # upserts never remove one
                v.add("carrier_services", f"node {schedule.node_id}'s {problem.field}: {problem.description}")
    v.raise_if_any()


def check_node_schedules(
    schedules: Sequence[NodeSchedule], known_nodes: Collection[str], in_force: Mapping[str, CarrierService]
) -> None:
    """Schedules name stored nodes and carrier services in force, each field named by its place."""
    v = Violations()
    for i, schedule in enumerate(schedules):
        if schedule.node_id not in known_nodes:
            v.add(f"schedules[{i}].node_id", f"names unknown node {schedule.node_id[:60]!r} (UpsertNodes first)")
        for problem in cutoff_problems(schedule, in_force):
            v.add(f"schedules[{i}].{problem.field}", problem.description)
    v.raise_if_any()
