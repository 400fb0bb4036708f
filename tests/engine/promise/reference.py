"""A slow, obvious reference for the date calculator: one calendar day at a time, in datetimes.

It shares nothing with engine/promise/calendar.py but the rules (docs/promise.md): zoneinfo
straight from the standard library, ``date`` steps, no arrays, no caches. The property test
checks the calculator against it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.promise.model import CarrierService, NodeSchedule

ONE_DAY = timedelta(days=1)


def _wall(day: date, minute: int, zone: ZoneInfo) -> float:
    """The epoch seconds of wall-clock ``minute`` on ``day`` (fold=0); minute 1440 is the next midnight."""
    if minute == 24 * 60:
        day, minute = day + ONE_DAY, 0
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).timestamp()


def _works(schedule: NodeSchedule, day: date) -> bool:
    return day.weekday() in schedule.working_days and day not in schedule.holidays


def reference_ship(schedule: NodeSchedule, service: CarrierService, at: datetime) -> tuple[date, datetime]:
    """(ship date, order-by instant) for an order in at ``at``: the order-by instant is the cut-off
    of the last release day whose shipment still leaves on that date."""
    zone = ZoneInfo(schedule.time_zone)
    cutoff = schedule.cutoff_for(service.id)
    assert cutoff is not None
    stamp = at.timestamp()
    day = at.astimezone(zone).date()
    if not (_works(schedule, day) and stamp < _wall(day, cutoff, zone)):
        day = _next_working(schedule, day)
    ship = _leaves(schedule, service, day)
    while _leaves(schedule, service, _next_working(schedule, day)) == ship:
        day = _next_working(schedule, day)
    return ship, datetime.fromtimestamp(_wall(day, cutoff, zone), UTC)


def _next_working(schedule: NodeSchedule, day: date) -> date:
    day += ONE_DAY
    while not _works(schedule, day):
        day += ONE_DAY
    return day


def _leaves(schedule: NodeSchedule, service: CarrierService, release: date) -> date:
    """The day a shipment released on ``release`` leaves: processing days, then a pickup day."""
    day = release
    for _ in range(schedule.processing_days):
        day = _next_working(schedule, day)
    while not (_works(schedule, day) and day.weekday() in service.pickup_days and day not in service.holidays):
        day += ONE_DAY
    return day


def reference_delivery(service: CarrierService, ship: date, transit_days: int) -> date:
    day = ship
    left = transit_days
    while left > 0:
        day += ONE_DAY
        if day.weekday() in service.delivery_days and day not in service.holidays:
            left -= 1
    return day


def reference_pickup_ready(schedule: NodeSchedule, at: datetime) -> datetime:
    """Opening-hours seconds counted window by window, each window in datetimes."""
    zone = ZoneInfo(schedule.time_zone)
    left: float = schedule.pickup_ready_minutes * 60
    stamp = at.timestamp()
    day = at.astimezone(zone).date()
    while True:
        if _works(schedule, day):
            start = max(stamp, _wall(day, schedule.opens, zone))
            close = _wall(day, schedule.closes, zone)
            if start < close:
                if start + left < close:
                    return datetime.fromtimestamp(start + left, UTC)
                left -= close - start
        day += ONE_DAY
