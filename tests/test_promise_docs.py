"""docs/promise.md's worked examples, computed on the committed sample network: Store 003 in
Chicago (ST-003, open every day, GROUND cut-off 15:00, TWO_DAY 14:00) shipping by Northstar
Parcel (Monday-Friday, the carriers' holidays) to Minneapolis (355 miles: zone 4, 2 days),
Anchorage and Honolulu. If one of these changes, the page must change with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.geo import haversine_miles
from engine.model import Item
from engine.promise.calculator import PromiseCalculator, epoch_seconds, instant_of
from engine.promise.checkout import CartLine, PromiseNetwork, cart_options, product_dates
from engine.promise.model import ShipTo
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


# --- checkout: the page's sample examples (1 and 2 of "Checkout", which the README's tour also runs) ----------

CHICAGO_CART = ((41.8781, -87.6298), [("1", "ACC-00002", 2), ("2", "ACC-00005", 1)])
TUESDAY_1430 = epoch_seconds(datetime(2026, 12, 1, 14, 30, tzinfo=CHICAGO))


def _checkout() -> tuple[PromiseNetwork, dict[str, dict[int, int]], dict[str, Item]]:
    network = PromiseNetwork(NETWORK.nodes, NETWORK.node_schedules, NETWORK.carrier_services_in_force)
    stock: dict[str, dict[int, int]] = {}
    for update in NETWORK.inventory:
        if update.quantity > 0:
            stock.setdefault(update.sku, {})[network.index[update.node_id]] = update.quantity
    return network, stock, {i.sku: i for i in NETWORK.items}


def test_the_checkout_example_of_the_page() -> None:
    network, stock, items = _checkout()
    (lat, lon), lines = CHICAGO_CART
    cart = [CartLine(line_id, sku, qty, items[sku].unit_weight_lb, items[sku]) for line_id, sku, qty in lines]
    options = cart_options(network, cart, stock, lat, lon, ShipTo("US-CONTIGUOUS"), TUESDAY_1430)
    found = {
        o.carrier_service: (
            f"{date.fromordinal(o.delivery_day):%a %d %b}",
            [s.node_id for s in o.shipments],
            round(o.cost, 2),
            round(o.carrier_charge, 2),
            f"{instant_of(o.order_by):%H:%M}",
            o.ships_complete,
        )
        for o in options
    }
    assert found == {
        "GROUND": ("Wed 02 Dec", ["ST-003"], 11.69, 5.41, "21:00", True),
        "NEXT_DAY": ("Wed 02 Dec", ["DC-01"], 27.93, 25.98, "21:00", True),
        "TWO_DAY": ("Thu 03 Dec", ["DC-02"], 13.85, 11.9, "22:00", True),
    }


def test_the_product_page_example_of_the_page() -> None:
    network, stock, _ = _checkout()
    lat, lon = 41.9229, -87.6483  # ZIP 60614's centroid in the packaged table
    dates = product_dates(
        network, ["ACC-00002", "ACC-00005", "ACC-00009"], stock, lat, lon, ShipTo("US-CONTIGUOUS"), TUESDAY_1430
    )
    assert [(p.sku, f"{date.fromordinal(p.delivery_day):%a %d %b}", p.carrier_service, p.node_id) for p in dates] == [
        ("ACC-00002", "Wed 02 Dec", "GROUND", "ST-003"),
        ("ACC-00005", "Wed 02 Dec", "GROUND", "ST-003"),
        ("ACC-00009", "Wed 02 Dec", "NEXT_DAY", "DC-01"),
    ]
