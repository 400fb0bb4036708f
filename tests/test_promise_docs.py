"""docs/promise.md's worked examples, computed on the committed sample network: Store 003 in
Chicago (ST-003, open every day, GROUND cut-off 15:00, TWO_DAY 14:00) shipping by Northstar
Parcel (Monday-Friday, the carriers' holidays) to Minneapolis (355 miles: zone 4, 2 days),
Anchorage and Honolulu. If one of these changes, the page must change with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.geo import haversine_miles
from engine.promise.calculator import PromiseCalculator, epoch_seconds, instant_of
from server.network_file import read_network_file

ROOT = Path(__file__).resolve().parents[1]
CHICAGO = ZoneInfo("America/Chicago")
NETWORK = read_network_file(ROOT / "data" / "sample-network.json")
CALC = PromiseCalculator(NETWORK.node_schedules, NETWORK.carrier_services_in_force.values())
STORE = next(n for n in NETWORK.nodes if n.id == "ST-003")
PLACES = {  # (lat, lon, region)
    "Minneapolis": (44.97997, -93.26384, "US-CONTIGUOUS"),
    "Anchorage": (61.21806, -149.90028, "US-AK"),
    "Honolulu": (21.30694, -157.85833, "US-HI"),
}


def promised(when: datetime, to: str, service: str = "GROUND") -> str:
    """'ship <day>, zone <z>, <n> days, delivered <day>; order by <instant>', as the page writes it."""
    lat, lon, region = PLACES[to]
    miles = float(haversine_miles(lat, lon, np.array([STORE.location.lat]), np.array([STORE.location.lon]))[0])
    promise = CALC.promise("ST-003", service, epoch_seconds(when), miles, region)
    assert promise is not None
    zone = CALC.service(service).zone(promise.zone).zone
    order_by = promise.order_by_time.astimezone(CHICAGO)
    return (
        f"ship {promise.ship_date:%a %d %b}, zone {zone}, {promise.transit_days} days, "
        f"delivered {promise.delivery_date:%a %d %b}; order by {order_by:%a %d %b %H:%M %Z}"
    )


@pytest.mark.parametrize(
    ("example", "when", "to", "service", "expected"),
    [
        ("1 before the cut-off", datetime(2026, 12, 1, 14, 59, 59, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Tue 01 Dec, zone 4, 2 days, delivered Thu 03 Dec; order by Tue 01 Dec 15:00 CST"),
        ("1 at the cut-off", datetime(2026, 12, 1, 15, 0, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Wed 02 Dec, zone 4, 2 days, delivered Fri 04 Dec; order by Wed 02 Dec 15:00 CST"),
        ("1 two-day cut-off", datetime(2026, 12, 1, 14, 30, tzinfo=CHICAGO), "Minneapolis", "TWO_DAY",
         "ship Wed 02 Dec, zone 4, 2 days, delivered Fri 04 Dec; order by Wed 02 Dec 14:00 CST"),
        ("2 Friday before", datetime(2026, 12, 4, 14, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Fri 04 Dec, zone 4, 2 days, delivered Tue 08 Dec; order by Fri 04 Dec 15:00 CST"),
        ("2 Friday after", datetime(2026, 12, 4, 15, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Mon 07 Dec, zone 4, 2 days, delivered Wed 09 Dec; order by Mon 07 Dec 15:00 CST"),
        ("3 Thanksgiving eve before", datetime(2026, 11, 25, 14, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Wed 25 Nov, zone 4, 2 days, delivered Mon 30 Nov; order by Wed 25 Nov 15:00 CST"),
        ("3 Thanksgiving eve after", datetime(2026, 11, 25, 15, 30, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Fri 27 Nov, zone 4, 2 days, delivered Tue 01 Dec; order by Fri 27 Nov 15:00 CST"),
        ("3 New Year's Eve", datetime(2026, 12, 31, 16, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Mon 04 Jan, zone 4, 2 days, delivered Wed 06 Jan; order by Mon 04 Jan 15:00 CST"),
        ("4 fall back, before", datetime(2026, 10, 26, 20, 30, tzinfo=UTC), "Minneapolis", "GROUND",
         "ship Tue 27 Oct, zone 4, 2 days, delivered Thu 29 Oct; order by Tue 27 Oct 15:00 CDT"),
        ("4 fall back, after", datetime(2026, 11, 2, 20, 30, tzinfo=UTC), "Minneapolis", "GROUND",
         "ship Mon 02 Nov, zone 4, 2 days, delivered Wed 04 Nov; order by Mon 02 Nov 15:00 CST"),
        ("4 the weekend of the change", datetime(2026, 10, 31, 16, 0, tzinfo=CHICAGO), "Minneapolis", "GROUND",
         "ship Mon 02 Nov, zone 4, 2 days, delivered Wed 04 Nov; order by Mon 02 Nov 15:00 CST"),
        ("4 spring forward, before", datetime(2026, 3, 2, 20, 30, tzinfo=UTC), "Minneapolis", "GROUND",
         "ship Mon 02 Mar, zone 4, 2 days, delivered Wed 04 Mar; order by Mon 02 Mar 15:00 CST"),
        ("4 spring forward, after", datetime(2026, 3, 9, 20, 30, tzinfo=UTC), "Minneapolis", "GROUND",
         "ship Tue 10 Mar, zone 4, 2 days, delivered Thu 12 Mar; order by Tue 10 Mar 15:00 CDT"),
        ("5 Alaska by ground", datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO), "Anchorage", "GROUND",
         "ship Tue 01 Dec, zone AK, 6 days, delivered Wed 09 Dec; order by Tue 01 Dec 15:00 CST"),
        ("5 Alaska in two days", datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO), "Anchorage", "TWO_DAY",
         "ship Tue 01 Dec, zone AK, 3 days, delivered Fri 04 Dec; order by Tue 01 Dec 14:00 CST"),
        ("5 Hawaii by ground", datetime(2026, 12, 1, 10, 0, tzinfo=CHICAGO), "Honolulu", "GROUND",
         "ship Tue 01 Dec, zone HI, 8 days, delivered Fri 11 Dec; order by Tue 01 Dec 15:00 CST"),
    ],
)  # fmt: skip
def test_a_worked_example_of_the_page(example: str, when: datetime, to: str, service: str, expected: str) -> None:
    assert promised(when, to, service) == expected, example


def test_the_pickup_example_of_the_page() -> None:
    ready = CALC.pickup_ready("ST-003", epoch_seconds(datetime(2026, 12, 1, 20, 30, tzinfo=CHICAGO)))

    assert f"{instant_of(ready).astimezone(CHICAGO):%a %d %b %H:%M}" == "Wed 02 Dec 11:30"


def test_the_page_quotes_the_examples() -> None:
    page = (ROOT / "docs" / "promise.md").read_text()
    for quoted in (
        "Thu 3 Dec",
        "Fri 4 Dec",
        "Wed 9 Dec",
        "Tue 1 Dec",
        "Wed 6 Jan",
        "Thu 12 Mar",
        "Fri 11 Dec",
        "11:30",
    ):
        assert quoted in page, quoted
