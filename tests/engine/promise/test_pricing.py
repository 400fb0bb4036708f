"""A carrier service's charge for one shipment: billed weight, zone rate, surcharges."""

from __future__ import annotations

import pytest

from engine.model import Item
from engine.promise.model import DEFAULT_CARRIER_SERVICES, ShipTo
from engine.promise.pricing import billed_weight_lb, carrier_charge, shipment_weight_and_volume, unit_volume_in3
from tests.engine.promise.network import GROUND, NEXT_DAY

PILLOW = Item("HOM-1", 1.0, length_in=20.0, width_in=14.0, height_in=6.0)  # 1,680 cubic inches, 1 lb
DUMBBELL = Item("SPT-1", 25.0, length_in=12.0, width_in=6.0, height_in=6.0)  # 432 cubic inches, 25 lb


def test_billed_weight_is_the_larger_of_actual_and_dimensional() -> None:
    assert billed_weight_lb(NEXT_DAY, 1.0, unit_volume_in3(PILLOW)) == pytest.approx(1680 / 139)
    assert billed_weight_lb(NEXT_DAY, 25.0, unit_volume_in3(DUMBBELL)) == 25.0
    assert billed_weight_lb(GROUND, 1.0, unit_volume_in3(PILLOW)) == 1.0  # no divisor: actual weight
    assert unit_volume_in3(Item("X", 1.0, length_in=10.0)) == 0.0  # a dimension unknown: no volume


def test_a_shipment_adds_up_its_lines() -> None:
    assert shipment_weight_and_volume([(2, 1.0, PILLOW), (1, 25.0, DUMBBELL), (3, 0.5, None)]) == (28.5, 3792.0)


def test_the_charge_has_its_zone_rate_and_each_surcharge() -> None:
    home = ShipTo(region="US-CONTIGUOUS", postal_code="58801", residential=True)  # Williston ND: remote
    charge = carrier_charge(NEXT_DAY, 700.0, home, 1.0, unit_volume_in3(PILLOW))
    zone5 = NEXT_DAY.zone(5)

    assert charge.zone == 5 and charge.billed_weight_lb == pytest.approx(1680 / 139)
    assert (charge.base, charge.weight) == (zone5.base, pytest.approx(zone5.per_lb * 1680 / 139))
    assert (charge.residential, charge.non_contiguous, charge.remote_area) == (5.25, 0.0, 3.80)
    assert charge.total == pytest.approx(zone5.base + zone5.per_lb * 1680 / 139 + 5.25 + 3.80)


def test_alaska_pays_its_own_zone_and_the_non_contiguous_surcharge() -> None:
    anchorage = ShipTo(region="US-AK", postal_code="99501")
    charge = carrier_charge(NEXT_DAY, 2900.0, anchorage, 25.0, 0.0)

    assert NEXT_DAY.zone(charge.zone).zone == "AK"
    assert (charge.base, charge.non_contiguous, charge.residential, charge.remote_area) == (22.50, 45.0, 0.0, 0.0)
    puerto_rico = carrier_charge(NEXT_DAY, 1700.0, ShipTo(region="US-PR", postal_code="00901"), 1.0, 0.0)
    assert (puerto_rico.zone, puerto_rico.non_contiguous) == (7, 45.0)  # banded by distance, surcharged


def test_a_default_service_prices_as_its_rate_table() -> None:
    standard = DEFAULT_CARRIER_SERVICES["STANDARD"]
    charge = carrier_charge(standard, 345.5, ShipTo(residential=True, postal_code="58801"), 4.0, 5000.0)

    assert (charge.zone, charge.base, charge.weight, charge.total) == (4, 6.80, 0.60 * 4.0, 6.80 + 0.60 * 4.0)
