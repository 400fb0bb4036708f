"""The date calculator: when a shipment leaves a node, when the carrier delivers it, when a pickup
is ready. The rules, with worked examples, are docs/promise.md's.

For a node, a carrier service, a ship-to (its distance from the node and its region) and an
instant:

1. the order's *release day* is the node-local date of the instant if that is a working day and
   the instant is strictly before the service's cut-off on it, else the next working day;
2. ``processing_days`` working days later (the same day when 0) the shipment is ready;
3. it *ships* on the first day from then that is both a node working day and a carrier pickup day;
4. it is *delivered* ``transit_days`` carrier business days after the ship day (the zone's
   transit, looked up; carrier business days are its delivery days minus its holidays).

Everything is built once per network (``PromiseCalculator``) into integer arrays; a promise is
then a handful of lookups on whole epoch seconds and day ordinals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from engine.errors import FieldViolation, InvalidInputError, Violations
from engine.promise.calendar import BusinessDays, ZoneClock, span_around
from engine.promise.model import (
    DEFAULT_CUTOFF,
    CarrierService,
    NodeSchedule,
    cutoff_problems,
)
from engine.promise.zones import time_zone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ARRIVALS_KEPT = 4096  # (ship day, transit) pairs remembered per service: months of promises
NOT_OFFERED = -1  # a ShipBoard's ship day where the node does not ship with the service
_BOARD_MAX_SECONDS = 86_400  # a board is rebuilt at least daily, even where no cut-off falls
_SECOND = timedelta(seconds=1)


def epoch_seconds(instant: datetime) -> int:
    """Whole seconds since the epoch, rounded down (exact: no float); a naive datetime is refused,
    since which instant it means depends on where it was written."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInputError(FieldViolation("at", "must carry a time zone (a naive time is ambiguous)"))
    return (instant - _EPOCH) // _SECOND


def instant_of(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


class Promise(NamedTuple):
    """When one shipment leaves and arrives. Days are ``date.toordinal()`` numbers: ``ship_day``
    is the node's local date, ``delivery_day`` the date at the ship-to."""

    node_id: str
    carrier_service: str
    zone: int  # 1-based index into the service's zone chart
    transit_days: int
    order_by: int  # epoch seconds: orders in from now until (not at) this instant ship the same day
    ship_day: int
    delivery_day: int

    @property
    def ship_date(self) -> date:
        return date.fromordinal(self.ship_day)

    @property
    def delivery_date(self) -> date:
        return date.fromordinal(self.delivery_day)

    @property
    def order_by_time(self) -> datetime:
        return instant_of(self.order_by)


class ShipBoard(NamedTuple):
    """Ship days of every node (``node_ids``, sorted) per carrier service, for any order in during
    [valid_from, valid_until): ``ship_days[service][i]`` is node i's, NOT_OFFERED where it does
    not ship with the service."""

    valid_from: int
    valid_until: int
    node_ids: tuple[str, ...]
    ship_days: dict[str, list[int]]


class _Departures:
    """When shipments of one node by one carrier service leave, for orders in at any instant.

    For each working day R of the node in a span of days: the cut-off instant on R (kept within
    R's own day) and the day a shipment released on R leaves (after processing, on a pickup day).
    An order is released on the first working day whose cut-off is still ahead of it (its own day
    if before the cut-off there, else the next working day), so ``leave`` is one bisection.
    """

    __slots__ = ("_clock", "_cutoff", "_processing", "_ships", "_span", "_work")

    def __init__(self, clock: ZoneClock, work: BusinessDays, cutoff: int, processing: int, ships: BusinessDays) -> None:
        self._clock = clock
        self._work = work
        self._cutoff = cutoff
        self._processing = processing
        self._ships = ships
        # (first instant covered, cut-off instants ascending, ship days, order-by instants, first
        # day, end day): lists, which bisect and indexing read fastest
        self._span: tuple[int, list[int], list[int], list[int], int, int] = (0, [], [], [], 0, 0)

    def leave(self, at: int) -> tuple[int, int]:
        """(ship day, order-by instant) for an order in at ``at``: every order from ``at`` until the
        order-by instant (exclusive) ships that same day, and one at it ships later."""
        start, cutoffs, ships, until, _, _ = self._span
        i = bisect.bisect_right(cutoffs, at)
        # Its order-by is known only when a later release day in the span leaves later (else the
        # span's end cut it short: a span built for an instant a year earlier ends there).
        if i < len(cutoffs) and at >= start and ships[-1] > ships[i]:
            return ships[i], until[i]
        self._widen(at)
        return self.leave(at)

    def leave_with_cutoff(self, at: int, cutoff: int) -> tuple[int, int]:
        """(ship day, order-by instant) of an order in at ``at`` when the cut-off of ``at``'s own
        local day is ``cutoff`` (a peak-day rule's): only that day's cut-off decides the release day
        (an order missing it is released on the next working day, before that day's cut-off). The
        order-by is that cut-off when the order makes it, else the next release day's own."""
        clock, work = self._clock, self._work
        day = clock.day_of(at)
        instant = self.cutoff_instant(day, cutoff)
        if work.is_business(day) and at < instant:
            return self._ships.nth_from(work.nth_from(day, self._processing)), instant
        release = work.nth_from(day + 1)
        return self._ships.nth_from(work.nth_from(release, self._processing)), self.leave(clock.start_of(release))[1]

    def cutoff_instant(self, day: int, cutoff: int) -> int:
        """The instant of ``cutoff`` (minutes after midnight) on the local ``day``, kept within the day."""
        clock = self._clock
        return max(clock.start_of(day), min(clock.at(day, cutoff), clock.start_of(day + 1)))

    def _widen(self, at: int) -> None:
        clock, work = self._clock, self._work
        day = clock.day_of(at)
        _, cutoffs, _, _, first, end = self._span
        lo, hi = span_around(day, first if cutoffs else None, end - first)
        while True:
            releases = [r for r in range(lo, hi) if work.is_business(r)]
            instants = [self.cutoff_instant(r, self._cutoff) for r in releases]
            leaving = [self._ships.nth_from(work.nth_from(r, self._processing)) for r in releases]
            i = bisect.bisect_right(instants, at)
            # Enough when the span holds the order's release day and a later one leaving later, so
            # its order-by instant (below) is known, not cut short by the span's end.
            if i < len(instants) and leaving[-1] > leaving[i]:
                break
            hi = day + 2 * (hi - day)  # a long closure: look further
        # Order by: the cut-off of the last release day whose shipment leaves the same day.
        until = list(instants)
        for k in range(len(releases) - 2, -1, -1):
            if leaving[k] == leaving[k + 1]:
                until[k] = until[k + 1]
        self._span = (clock.start_of(lo), instants, leaving, until, lo, hi)


class _NodeTimes:
    __slots__ = ("clock", "closes", "departures", "opens", "ready_seconds", "work")

    def __init__(
        self, clock: ZoneClock, work: BusinessDays, schedule: NodeSchedule, departures: dict[str, _Departures]
    ) -> None:
        self.clock = clock
        self.work = work
        self.departures = departures  # by carrier service id: the services the node ships with
        self.opens = schedule.opens
        self.closes = schedule.closes
        self.ready_seconds = schedule.pickup_ready_minutes * 60


class _ServiceTimes:
    __slots__ = ("_arrivals", "delivery", "service", "transit")

    def __init__(self, service: CarrierService, delivery: BusinessDays) -> None:
        self.service = service
        self.delivery = delivery
        self.transit = (0, *(row.transit_days for row in service.zones))  # by 1-based zone
        self._arrivals: dict[int, int] = {}  # ship day * 64 + transit days -> delivery day

    def arrival(self, ship_day: int, transit: int) -> int:
        """The delivery day of a shipment leaving on ``ship_day`` with ``transit`` days: a few ship
        days and transit values recur all day, so each pair is counted once and remembered."""
        key = ship_day * 64 + transit  # transit <= MAX_TRANSIT_DAYS < 64
        day = self._arrivals.get(key)
        if day is None:
            if len(self._arrivals) >= _ARRIVALS_KEPT:
                self._arrivals.clear()
            day = self._arrivals[key] = self.delivery.after(ship_day, transit)
        return day


class PromiseCalculator:
    """Ship and delivery dates for one network's node schedules and carrier services.

    Calendars with the same days and holidays are built once and shared, as are zone clocks; their
    arrays grow on first use around the instants asked about (docs/promise.md, "Speed").
    """

    def __init__(self, schedules: Iterable[NodeSchedule], services: Iterable[CarrierService]) -> None:
        schedules, services = tuple(schedules), tuple(services)
        by_id = {s.id: s for s in services}
        v = Violations()
        seen: dict[str, int] = {}
        for i, service in enumerate(services):
            if service.id in seen:
                v.add(
                    f"carrier_services[{i}].id",
                    f"duplicates {service.id!r} (first at carrier_services[{seen[service.id]}])",
                )
            seen.setdefault(service.id, i)
        nodes_seen: dict[str, int] = {}
        for i, schedule in enumerate(schedules):
            if schedule.node_id in nodes_seen:
                v.add(
                    f"schedules[{i}].node_id",
                    f"duplicates {schedule.node_id!r} (first at schedules[{nodes_seen[schedule.node_id]}])",
                )
            nodes_seen.setdefault(schedule.node_id, i)
            for problem in cutoff_problems(schedule, by_id):
                v.add(f"schedules[{i}].{problem.field}", problem.description)
        v.raise_if_any()
        self._calendars: dict[tuple[frozenset[int], frozenset[int]], BusinessDays] = {}
        self._clocks: dict[str, ZoneClock] = {}
        self._departures: dict[tuple[str, int, int, int, int], _Departures] = {}
        self._services = {s.id: _ServiceTimes(s, self._calendar(s.delivery_days, s.holidays)) for s in services}
        self._nodes = {schedule.node_id: self._node_times(schedule, by_id) for schedule in schedules}
        self._node_ids = tuple(sorted(self._nodes))
        # A node's position in every board's lists (boards share ``_node_ids``).
        self.board_index = {node_id: i for i, node_id in enumerate(self._node_ids)}
        self._board: ShipBoard | None = None

    def _calendar(self, weekdays: Iterable[int], holidays: Iterable[date]) -> BusinessDays:
        key = (frozenset(int(d) for d in weekdays), frozenset(d.toordinal() for d in holidays))
        calendar = self._calendars.get(key)
        if calendar is None:
            calendar = self._calendars[key] = BusinessDays(*key)
        return calendar

    def _node_times(self, schedule: NodeSchedule, services: dict[str, CarrierService]) -> _NodeTimes:
        clock = self._clocks.get(schedule.time_zone)
        if clock is None:
            clock = self._clocks[schedule.time_zone] = ZoneClock(time_zone(schedule.time_zone))
        if schedule.cutoffs is None:  # no data: every service that ever picks up on one of its working days
            cutoffs = {sid: DEFAULT_CUTOFF for sid, s in services.items() if s.pickup_days & schedule.working_days}
        else:
            cutoffs = {c.carrier_service: c.time for c in schedule.cutoffs}
        work = self._calendar(schedule.working_days, schedule.holidays)
        departures = {}
        for sid, cutoff in cutoffs.items():
            service = services[sid]
            ships = self._calendar(schedule.working_days & service.pickup_days, schedule.holidays | service.holidays)
            key = (schedule.time_zone, cutoff, id(work), schedule.processing_days, id(ships))
            found = self._departures.get(key)
            if found is None:  # nodes alike (zone, calendar, cut-off, processing) share one
                found = self._departures[key] = _Departures(clock, work, cutoff, schedule.processing_days, ships)
            departures[sid] = found
        return _NodeTimes(clock, work, schedule, departures)

    # --- questions ------------------------------------------------------------------------------------------

    def offers(self, node_id: str, service_id: str) -> bool:
        return service_id in self._node(node_id).departures

    def service(self, service_id: str) -> CarrierService:
        return self._service(service_id).service

    def ship(self, node_id: str, service_id: str, at: int) -> tuple[int, int] | None:
        """(ship day, order-by instant) for an order in at ``at`` (epoch seconds), or None when the
        node does not ship with that service. Every order from ``at`` until the order-by instant
        ships that same day (it is the cut-off of the last release day whose shipment leaves then)."""
        node = self._nodes.get(node_id)
        if node is None:
            raise _unknown_node(node_id)
        departures = node.departures.get(service_id)
        return None if departures is None else departures.leave(at)

    def local_day(self, node_id: str, at: int) -> int:
        """The node-local date (ordinal) of the instant ``at``."""
        return self._node(node_id).clock.day_of(at)

    def ship_with_cutoff(self, node_id: str, service_id: str, at: int, cutoff: int) -> tuple[int, int] | None:
        """(ship day, order-by instant) of an order in at ``at`` when the node's cut-off for the
        service on ``at``'s local day is ``cutoff`` minutes after midnight; None when it does not
        ship by it."""
        departures = self._node(node_id).departures.get(service_id)
        return None if departures is None else departures.leave_with_cutoff(at, cutoff)

    def cutoff_instant(self, node_id: str, day: int, cutoff: int) -> int:
        """The instant of ``cutoff`` (minutes after midnight) on the node's local ``day``."""
        clock = self._node(node_id).clock
        return max(clock.start_of(day), min(clock.at(day, cutoff), clock.start_of(day + 1)))

    def transit_days(self, service_id: str, zone: int) -> int:
        return self._service(service_id).transit[zone]

    def delivery_day(self, service_id: str, ship_day: int, zone: int) -> int:
        """The day a shipment leaving on ``ship_day`` arrives in ``zone`` (a 1-based zone index)."""
        times = self._service(service_id)
        return times.arrival(ship_day, times.transit[zone])

    def delivery_day_after(self, service_id: str, ship_day: int, transit_days: int) -> int:
        """The day a shipment leaving on ``ship_day`` with ``transit_days`` of transit arrives."""
        return self._service(service_id).arrival(ship_day, transit_days)

    def promise(
        self, node_id: str, service_id: str, at: int, distance_miles: float, region: str = ""
    ) -> Promise | None:
        """The promise for a shipment from ``node_id`` by ``service_id`` to a ship-to
        ``distance_miles`` away in ``region`` (``US-AK``, ``US-HI``, ...), ordered at ``at``
        (epoch seconds); None when the node does not ship with that service."""
        shipped = self.ship(node_id, service_id, at)
        if shipped is None:
            return None
        ship_day, order_by = shipped
        times = self._service(service_id)
        zone = times.service.zone_of(distance_miles, region)
        transit = times.transit[zone]
        return Promise(node_id, service_id, zone, transit, order_by, ship_day, times.arrival(ship_day, transit))

    def board(self, at: int) -> ShipBoard:
        """Every node's ship day per carrier service for orders in at ``at``, and how long that
        holds (until the earliest of the cut-offs that would change one). The last board is kept:
        checkout asks many times between two cut-offs, and each ask is then a lookup."""
        board = self._board
        if board is not None and board.valid_from <= at < board.valid_until:
            return board
        ship_days: dict[str, list[int]] = {sid: [NOT_OFFERED] * len(self._node_ids) for sid in self._services}
        until = at + _BOARD_MAX_SECONDS
        for i, node_id in enumerate(self._node_ids):
            for sid, departures in self._nodes[node_id].departures.items():
                ship_day, order_by = departures.leave(at)
                ship_days[sid][i] = ship_day
                until = min(until, order_by)
        board = ShipBoard(at, until, self._node_ids, ship_days)
        self._board = board
        return board

    def deliveries(
        self,
        board: ShipBoard,
        service_id: str,
        nodes: Iterable[int],
        miles: Sequence[float] | Mapping[int, float],
        region: str = "",
    ) -> list[int]:
        """The delivery day by ``service_id`` from each of ``nodes`` (indices into ``board.node_ids``)
        to one ship-to in ``region``, ``miles[i]`` from node i (a list over all nodes, or a mapping
        over ``nodes``); NOT_OFFERED where the node does not
        ship with the service. The loop a checkout runs over its candidate nodes, kept to a few
        lookups per node: the board's ship day, the zone's transit, a remembered arrival."""
        times = self._service(service_id)
        service, transit, arrivals = times.service, times.transit, times._arrivals
        ship_days = board.ship_days[service_id]
        # Alaska or Hawaii in its own zone when the chart has one; else zoned by distance, as anywhere.
        offshore = service.offshore_zone(region)
        limits = service.zone_limits_miles
        out: list[int] = []
        for i in nodes:
            ship_day = ship_days[i]
            if ship_day == NOT_OFFERED:
                out.append(NOT_OFFERED)
                continue
            days = transit[offshore or bisect.bisect_left(limits, miles[i]) + 1]
            day = arrivals.get(ship_day * 64 + days)
            out.append(times.arrival(ship_day, days) if day is None else day)
        return out

    def pickup_ready(self, node_id: str, at: int) -> int:
        """When a pickup order in at ``at`` can be collected: ``pickup_ready_minutes`` of opening
        hours later (counted on working days, within opens-closes), strictly before a closing;
        an order in while the node is closed starts counting at the next opening."""
        node = self._node(node_id)
        clock, work = node.clock, node.work
        remaining = node.ready_seconds
        day = clock.day_of(at)
        while True:
            if work.is_business(day):
                start = max(at, clock.at(day, node.opens))
                close = clock.at(day, node.closes)
                if start < close:
                    if start + remaining < close:
                        return start + remaining
                    remaining -= close - start
            day = work.nth_from(day + 1)

    def _node(self, node_id: str) -> _NodeTimes:
        node = self._nodes.get(node_id)
        if node is None:
            raise _unknown_node(node_id)
        return node

    def _service(self, service_id: str) -> _ServiceTimes:
        try:
            return self._services[service_id]
        except KeyError:
            known = ", ".join(sorted(self._services))
            raise InvalidInputError(
                FieldViolation("carrier_service", f"names unknown carrier service {service_id[:40]!r}; known: {known}")
            ) from None


def _unknown_node(node_id: str) -> InvalidInputError:
    return InvalidInputError(FieldViolation("node_id", f"names unknown node {node_id[:60]!r}"))
