"""Calendars as integer day ordinals, pre-expanded into arrays so a promise is a few lookups.

Days are ``date.toordinal()`` numbers and instants are whole UTC epoch seconds: no ``datetime``
arithmetic on the hot path. Each structure answers from arrays covering a span of days (about
14 months from the first day asked about); a question outside the span widens it. A widened span
is built aside and swapped in as one tuple, so a reader on another thread sees the old arrays or
the new ones, never half of each, and the answers never depend on the span: it only saves time.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SECONDS_PER_DAY = 86_400
_SPAN_BEFORE = 31  # days kept before the first day asked about (clocks are a little behind, tests look back)
_SPAN_AFTER = 400  # and after it: this year's and next year's promises without widening
_SPAN_MAX = 4 * 366  # a question further away starts a fresh span rather than stretching this one across years


def weekday_of(ordinal: int) -> int:
    """Monday 0 ... Sunday 6, as ``date.weekday()`` (ordinal 1, 0001-01-01, was a Monday)."""
    return (ordinal + 6) % 7


class BusinessDays:
    """The business days of one calendar: weekdays it works, minus holidays (ordinals)."""

    __slots__ = ("_span", "holidays", "weekdays")

    def __init__(self, weekdays: Iterable[int], holidays: Iterable[int]) -> None:
        self.weekdays = frozenset(weekdays)
        if not self.weekdays:
            raise ValueError("a calendar needs at least one business weekday")
        self.holidays = frozenset(holidays)
        # (first ordinal, flags: 1 per business day, pos[i]: index in days of the first business
        # day on or after first + i, days: the business days in the span, ascending)
        self._span: tuple[int, bytes, array[int], array[int]] = (0, b"", array("q"), array("q"))

    def is_business(self, ordinal: int) -> bool:
        first, flags, _, _ = self._span
        i = ordinal - first
        if 0 <= i < len(flags):
            return flags[i] == 1
        return weekday_of(ordinal) in self.weekdays and ordinal not in self.holidays

    def nth_from(self, ordinal: int, n: int = 0) -> int:
        """The first business day on or after ``ordinal`` (n = 0), or the n-th business day after that one."""
        first, _, pos, days = self._span
        i = ordinal - first
        if 0 <= i < len(pos):
            k = pos[i] + n
            if k < len(days):
                return days[k]
        self._widen(ordinal, n)
        return self.nth_from(ordinal, n)

    def after(self, ordinal: int, n: int) -> int:
        """The n-th business day strictly after ``ordinal``; ``ordinal`` itself when n is 0."""
        return self.nth_from(ordinal + 1, n - 1) if n > 0 else ordinal

    def _widen(self, ordinal: int, n: int) -> None:
        first, flags, _, _ = self._span
        lo, hi = span_around(ordinal, first, len(flags))
        while True:
            span = self._build(lo, hi)
            pos, days = span[2], span[3]
            if pos[ordinal - lo] + n < len(days):
                self._span = span
                return
            hi = ordinal + 2 * (hi - ordinal)  # holidays or a sparse week pushed the answer past the span

    def _build(self, lo: int, hi: int) -> tuple[int, bytes, array[int], array[int]]:
        weekdays, holidays = self.weekdays, self.holidays
        flags = bytes(1 if weekday_of(o) in weekdays and o not in holidays else 0 for o in range(lo, hi))
        days = array("q", (lo + i for i, flag in enumerate(flags) if flag))
        pos = array("q", bytes(8 * len(flags)))
        k = len(days)
        for i in range(len(flags) - 1, -1, -1):  # backwards: the first business day on or after each day
            k -= flags[i]
            pos[i] = k
        return lo, flags, pos, days


class ZoneClock:
    """One IANA zone's local dates and wall-clock times as UTC instants (whole epoch seconds).

    A local date starts at its first instant: wall-clock midnight, or the end of a gap when the
    clocks skip midnight. A wall-clock time is read with ``fold=0``: at a fall-back the first of
    the two, in a spring-forward gap the instant it would be with the offset before the gap (a
    time in the skipped hour lands an hour later by the new clock).
    """

    __slots__ = ("_days", "_walls", "zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # (first ordinal, starts): starts[i] is the first instant of local date first + i; one
        # more entry than days, so the last day has its end.
        self._days: tuple[int, list[int]] = (0, [])  # a list: bisect reads it faster than an array
        self._walls: dict[int, tuple[int, array[int]]] = {}  # minute of day -> (first ordinal, instants)

    def day_of(self, instant: int) -> int:
        """The local date (ordinal) of an instant."""
        first, starts = self._days
        i = bisect.bisect_right(starts, instant) - 1
        if 0 <= i < len(starts) - 1:
            return first + i
        return self._widen_days(instant)

    def at(self, ordinal: int, minute: int) -> int:
        """The instant of wall-clock ``minute`` (0-1440 after midnight) on local date ``ordinal``."""
        table = self._walls.get(minute)
        if table is not None:
            first, instants = table
            i = ordinal - first
            if 0 <= i < len(instants):
                return instants[i]
        lo, hi = span_around(ordinal, table[0] if table else None, len(table[1]) if table else 0)
        instants = array("q", (self._wall(o, minute) for o in range(lo, hi)))
        self._walls[minute] = (lo, instants)
        return instants[ordinal - lo]

    def start_of(self, ordinal: int) -> int:
        """The first instant of local date ``ordinal``."""
        return self.at(ordinal, 0)

    def _wall(self, ordinal: int, minute: int) -> int:
        if minute >= 24 * 60:  # 24:00 is the next day's midnight
            return self._wall(ordinal + minute // (24 * 60), minute % (24 * 60))
        naive = datetime.fromordinal(ordinal) + timedelta(minutes=minute)
        offset = self.zone.utcoffset(naive)
        assert offset is not None  # a ZoneInfo always has one
        return (ordinal - EPOCH_ORDINAL) * SECONDS_PER_DAY + minute * 60 - int(offset.total_seconds())

    def _widen_days(self, instant: int) -> int:
        first, starts = self._days
        guess = EPOCH_ORDINAL + instant // SECONDS_PER_DAY  # within a day of the local date anywhere on Earth
        lo, hi = span_around(guess, first if len(starts) else None, max(0, len(starts) - 1))
        lo, hi = lo - 2, hi + 2
        new_starts = [self._wall(o, 0) for o in range(lo, hi + 1)]
        self._days = (lo, new_starts)
        return lo + bisect.bisect_right(new_starts, instant) - 1


def span_around(ordinal: int, first: int | None, length: int) -> tuple[int, int]:
    """A span [lo, hi) holding ``ordinal``, and the old span [first, first + length) too when the
    two together stay within a few years (else the old one is dropped: memory stays bounded)."""
    lo, hi = ordinal - _SPAN_BEFORE, ordinal + _SPAN_AFTER
    if first is not None and length:
        union = min(lo, first), max(hi, first + length)
        if union[1] - union[0] <= _SPAN_MAX:
            return union
    return lo, hi
