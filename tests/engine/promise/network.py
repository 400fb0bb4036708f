"""A small promise network for the calculator's tests, shaped like the sample's (docs/promise.md).

- DC-CHI: Chicago, Monday-Saturday 06:00-23:00, US federal holidays of 2026, GROUND at 15:00 and
  NEXT_DAY at 13:00.
- ST-LAX: a Los Angeles store open 10-21 every day but Thanksgiving and Christmas, GROUND at 15:00,
  pickups ready in 120 minutes.
- DC-NYC: New York, Monday-Friday, GROUND at 17:00.
- GROUND (Northstar Parcel, STANDARD): the default bands, 1-5 business days, Alaska 6, Hawaii 8;
  picks up and delivers Monday-Friday; closed on the carriers' six holidays of 2026-2027.
- NEXT_DAY (Skyline Air): one day everywhere, Alaska and Hawaii two.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.promise.calculator import PromiseCalculator, epoch_seconds
from engine.promise.model import (
    ALL_WEEK,
    MONDAY_TO_FRIDAY,
    MONDAY_TO_SATURDAY,
    CarrierService,
    Cutoff,
    NodeSchedule,
    ZoneRate,
)
from engine.rates import STANDARD_RATES

CHICAGO = ZoneInfo("America/Chicago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")

FEDERAL_2026 = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07",
        "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25", "2027-01-01",
    )
)  # fmt: skip
CARRIER_HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-05-25", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
        "2027-01-01", "2027-05-31", "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24", "2027-12-31",
    )
)  # fmt: skip

GROUND_TRANSIT = (1, 1, 2, 2, 3, 4, 4, 5)


def chart(
    transit: tuple[int, ...], alaska: int | None, hawaii: int | None, per_lb_scale: float = 1.0
) -> tuple[ZoneRate, ...]:
    limits = (*STANDARD_RATES.zone_limits_miles, None)
    rows = [
        ZoneRate(str(z + 1), transit[z], STANDARD_RATES.base[z], STANDARD_RATES.per_lb[z] * per_lb_scale, limits[z])
        for z in range(len(transit))
    ]
    if alaska is not None:
        rows.append(ZoneRate("AK", alaska, 22.50, 2.10))
    if hawaii is not None:
        rows.append(ZoneRate("HI", hawaii, 25.00, 2.40))
    return tuple(rows)


GROUND = CarrierService(
    "GROUND", "Northstar Parcel", "STANDARD", chart(GROUND_TRANSIT, 6, 8), holidays=CARRIER_HOLIDAYS
)
NEXT_DAY = CarrierService(
    "NEXT_DAY", "Skyline Air", "NEXT_DAY", chart((1,) * 8, 2, 2, per_lb_scale=3.0), holidays=CARRIER_HOLIDAYS,
    dim_divisor=139.0, residential_surcharge=5.25, non_contiguous_surcharge=45.0, remote_area_surcharge=3.80,
    remote_area_zip3=frozenset({"588", "893"}),
)  # fmt: skip

DC_CHI = NodeSchedule(
    "DC-CHI", "America/Chicago", MONDAY_TO_SATURDAY, 6 * 60, 23 * 60, FEDERAL_2026, 0,
    (Cutoff("GROUND", 15 * 60), Cutoff("NEXT_DAY", 13 * 60)),
)  # fmt: skip
ST_LAX = NodeSchedule(
    "ST-LAX", "America/Los_Angeles", ALL_WEEK, 10 * 60, 21 * 60,
    frozenset({date(2026, 11, 26), date(2026, 12, 25)}), 0, (Cutoff("GROUND", 15 * 60),), 120,
)  # fmt: skip
DC_NYC = NodeSchedule(
    "DC-NYC", "America/New_York", MONDAY_TO_FRIDAY, 7 * 60, 20 * 60, cutoffs=(Cutoff("GROUND", 17 * 60),)
)

SCHEDULES = (DC_CHI, ST_LAX, DC_NYC)
SERVICES = (GROUND, NEXT_DAY)


def calculator() -> PromiseCalculator:
    return PromiseCalculator(SCHEDULES, SERVICES)


def at(zone: ZoneInfo, day: str, clock: str = "00:00:00", fold: int = 0) -> int:
    """Epoch seconds of a local wall-clock time: at(CHICAGO, "2026-12-01", "14:59:59")."""
    return epoch_seconds(datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone, fold=fold))
