"""One way to decide an order against the live store: what Source, Allocate and later calls share.

Reads the catalogue (to fill lines' missing fields), the network snapshot and
availability for just the order's SKUs, then calls the pure engine. Rule
directives plug in here (``directives_for``), so every caller decides the same way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

from engine import limits
from engine.availability import Availability
from engine.batch import BatchDecision, BatchOrder, decide_batch
from engine.decision import AllocationLine, Decision
from engine.directives import NO_DIRECTIVES, Directives, Exclusion, about_time
from engine.errors import FieldViolation, InvalidInputError
from engine.model import ObjectiveMode, Order, id_problem
from engine.network import NetworkSnapshot
from engine.optimizer.search import SolverSettings
from engine.promise.calculator import epoch_seconds
from engine.reoptimize import PendingOrder, Reoptimization, reoptimize
from engine.sourcing import decide_from_levels
from server.api import convert
from server.api.convert.order_promise import past_promise_problems
from server.api.decision_proto import decision_fields
from server.api.item_cache import ItemCache
from server.api.network_cache import NetworkCache
from server.api.proto import common_pb2, sourcing_pb2
from server.api.sku_resolution import Translation, resolve_order_lines
from server.pilot_scope import EVERYTHING, PilotScope
from server.served_area import SERVED_ANYWHERE, ServedArea, region_of_point
from server.store.base import Store

DirectivesFor = Callable[[Order, NetworkSnapshot], Directives]
# A decision, its solve time and its rule evaluation time, in seconds.
DecisionObserver = Callable[[Decision, float, float], None]


def no_rules(order: Order, snapshot: NetworkSnapshot) -> Directives:
    return NO_DIRECTIVES


@dataclass(frozen=True)
class Outcome:
    order: Order
    decision: Decision
    network_version: str
    solve_ms: float

    def to_proto(self, currency: str, started: float, decision_id: str = "") -> sourcing_pb2.Decision:
        """The decision as callers get it; ``started`` (perf_counter) dates its total time."""
        return sourcing_pb2.Decision(**self.proto_fields(currency, started, decision_id))

    def proto_fields(self, currency: str, started: float, decision_id: str = "") -> dict[str, Any]:
        """``to_proto``'s fields, for a response built around them in one call (no copy)."""
        return decision_fields(
            self.decision,
            decision_id=decision_id or str(uuid.uuid4()),
            currency=currency,
            network_version=self.network_version,
            solve_ms=self.solve_ms,
            total_ms=(time.perf_counter() - started) * 1000.0,
        )


class Decider:
    def __init__(
        self,
        store: Store,
        network: NetworkCache,
        currency: str,
        directives_for: DirectivesFor = no_rules,
        observe: DecisionObserver | None = None,
        items: ItemCache | None = None,
        served: ServedArea = SERVED_ANYWHERE,
        pilot: PilotScope = EVERYTHING,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock  # the decision's instant (promises, dates): the server's, never the engine's
        self._store = store
        self._items = items or ItemCache(store)
        self._network = network
        self._currency = currency
        self.directives_for = directives_for
        self._observe = observe
        self._served = served
        self._pilot = pilot
        self._pilot_scoped = pilot.scopes_anything  # asked on every new order

    def order_from_proto(
        self, msg: common_pb2.Order, path: str = "order", *, new: bool, translations: list[Translation] | None = None
    ) -> Order:
        """The engine order, lines enriched from the catalogue; InvalidInputError names bad fields.

        ``new``: an order a caller sends now (Source, Allocate, AllocateBatch), which must ship to
        the served area and name a pickup node that takes pickups; an order read back from the
        store (re-sourced, returned, re-planned) is decided as it was accepted. A new order must be in
        the pilot scope (OutsidePilotError names its channel or SKUs otherwise). A new order's lines
        may name aliases and barcodes: they are rewritten in ``msg`` to catalogue SKUs, and each
        rewrite is added to ``translations`` when given.
        """
        violations: list[FieldViolation] = []
        if new and len(msg.lines) <= limits.MAX_LINES_PER_ORDER:
            # Aliases and barcodes become catalogue SKUs in the request itself, so the order kept
            # (and decided again later) names the SKU it was decided for.
            violations, translated = resolve_order_lines(self._items, msg, path)
            if translations is not None:
                translations.extend(translated)
        # Only well-formed SKUs are looked up: a bad one is the conversion's violation to report, and
        # a NUL in a query parameter fails on PostgreSQL.
        skus = sorted({line.sku for line in msg.lines if id_problem(line.sku) is None})[: limits.MAX_LINES_PER_ORDER]
        try:
            order = convert.order_from_proto(
                msg,
                self._items.get_items(skus),
                self._currency,
                network=self._network.get(),
                served=self._served if new else None,
                path=path,
            )
        except InvalidInputError as error:
            # A line the resolution found bad is said once, in its words: not also as a missing
            # quantity or an unknown SKU.
            said = {v.field for v in violations}
            for v in violations:
                line = v.field.rsplit(".", 1)[0]
                said |= {f"{line}.qty", f"{line}.sku"}
            raise InvalidInputError([*violations, *(v for v in error.violations if v.field not in said)]) from None
        if violations:
            raise InvalidInputError(violations)
        if new and order.promised:  # a stored order is decided again whatever its date
            problems = past_promise_problems(order, self._clock())
            if problems:
                raise InvalidInputError([FieldViolation(f"{path}.{field}", why) for field, why in problems])
        if new and self._pilot_scoped:
            # A valid order outside the pilot is refused whole (FAILED_PRECONDITION): the caller
            # sends it to the system that still decides it.
            self._pilot.check(
                order.channel, [(f"{path}.lines[{i}].sku", x.sku) for i, x in enumerate(order.lines)], path
            )
        return order

    def stored_order(self, request_json: str) -> Order:
        """An order as the store keeps it (its request's order, as JSON), to decide it again."""
        return self.order_from_proto(
            json_format.Parse(request_json, common_pb2.Order(), ignore_unknown_fields=True), new=False
        )

    def _dated(self, order: Order, snapshot: NetworkSnapshot, directives: Directives | None = None) -> bool:
        """The order's decision depends on its instant: it carries a promise or rules about time fire on it."""
        ruled = directives if directives is not None else self.directives_for(order, snapshot)
        return order.promised or about_time(ruled)

    def decide(
        self,
        order: Order,
        *,
        time_limit_ms: int,
        why_not: Sequence[str] = (),
        now: datetime | None = None,
        extra_exclusions: Sequence[Exclusion] = (),
        explain: bool = True,
    ) -> Outcome:
        """``now``: the instant holds are judged expired at; ``extra_exclusions`` add to the rules'
        (Reallocate keeps a rejecting node away from the units it re-sources)."""
        snapshot = self._network.get()
        skus = sorted({line.sku for line in order.lines})
        levels = self._store.stock_levels(skus, now=now)
        rules_started = time.perf_counter()
        directives = self.directives_for(order, snapshot)
        rules_seconds = time.perf_counter() - rules_started
        if extra_exclusions:
            directives = replace(directives, exclusions=(*directives.exclusions, *extra_exclusions))
        started = time.perf_counter()
        instant = now if now is not None else self._clock()
        dated = order.promised or about_time(directives)  # carrier zones for Alaska and Hawaii
        region = (region_of_point(order.ship_to.lat, order.ship_to.lon) or "") if dated else ""
        decision = decide_from_levels(
            order,
            snapshot,
            skus,
            levels,
            directives,
            SolverSettings(time_limit_ms=time_limit_ms),
            why_not,
            explain,
            at=epoch_seconds(instant),
            region=region,
        )
        solve_seconds = time.perf_counter() - started
        if self._observe is not None:
            self._observe(decision, solve_seconds, rules_seconds)
        return Outcome(order, decision, snapshot.version, solve_seconds * 1000.0)

    def decide_batch(
        self, orders: Sequence[Order], *, time_limit_ms: int, now: datetime | None = None
    ) -> tuple[list[Outcome], BatchDecision]:
        """``orders`` decided jointly over one read of the stock; each under its own rules."""
        snapshot = self._network.get()
        skus = sorted({line.sku for order in orders for line in order.lines})
        availability = Availability.from_levels(snapshot, skus, self._store.stock_levels(skus, now=now))
        rules_started = time.perf_counter()
        # Each order decided as Allocate would at this instant: its promise kept, each shipment of
        # an order carrying one priced by the cheapest carrier service keeping it (engine/batch.py).
        instant = epoch_seconds(now if now is not None else self._clock())
        items = []
        for order in orders:
            directives = self.directives_for(order, snapshot)
            # An earliest-delivery order is dated too: its day is what it is decided by (engine/batch.py).
            dated = self._dated(order, snapshot, directives) or order.objective is ObjectiveMode.EARLIEST_DELIVERY
            region = (region_of_point(order.ship_to.lat, order.ship_to.lon) or "") if dated else ""
            items.append(BatchOrder(order, directives, at=instant if dated else None, region=region))
        rules_seconds = time.perf_counter() - rules_started
        started = time.perf_counter()
        batch = decide_batch(items, snapshot, availability, SolverSettings(time_limit_ms=time_limit_ms))
        solve_seconds = time.perf_counter() - started
        if self._observe is not None:
            for decision in batch.decisions:
                self._observe(decision, solve_seconds / len(orders), rules_seconds / len(orders))
        outcomes = [
            Outcome(order, decision, snapshot.version, solve_seconds * 1000.0)
            for order, decision in zip(orders, batch.decisions, strict=True)
        ]
        return outcomes, batch

    def reoptimize(
        self,
        pending: Sequence[tuple[Order, Sequence[Exclusion], tuple[AllocationLine, ...]]],
        *,
        time_limit_ms: int,
        now: datetime | None = None,
    ) -> tuple[Reoptimization, str]:
        """Orders holding stock (each: its open units, its lasting exclusions, its holds) decided
        again jointly, each under its own rules; the result and the network version."""
        snapshot = self._network.get()
        skus = sorted({line.sku for order, _, _ in pending for line in order.lines})
        free = Availability.from_levels(snapshot, skus, self._store.stock_levels(skus, now=now))
        items = []
        for order, exclusions, held in pending:
            directives = self.directives_for(order, snapshot)
            if exclusions:
                directives = replace(directives, exclusions=(*directives.exclusions, *exclusions))
            dated = order.promised or about_time(directives)  # carrier zones for Alaska and Hawaii
            region = (region_of_point(order.ship_to.lat, order.ship_to.lon) or "") if dated else ""
            items.append(PendingOrder(order, directives, held, region))
        # Promises are judged at the server's instant: the re-plan moves no unit to a node that would break one.
        instant = epoch_seconds(now if now is not None else self._clock())
        result = reoptimize(items, snapshot, free, SolverSettings(time_limit_ms=time_limit_ms), at=instant)
        return result, snapshot.version
