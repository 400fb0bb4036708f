"""What a carrier service charges for one shipment: billed weight, zone rate and surcharges.

The zone rate is the service's ``base + per_lb x billed weight`` for the zone (``CarrierService.zone_of``);
billed weight is the larger of the actual weight and the dimensional weight (volume / divisor)
when the service has a divisor. Surcharges are per shipment. Checkout's quotes and the cost of a
promise order's shipments both come from here (docs/promise.md, "Price").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from engine.model import Item
from engine.promise.model import NON_CONTIGUOUS_REGIONS, CarrierService, ShipTo


def unit_volume_in3(item: Item) -> float:
    """One unit's volume; 0 when any dimension is unknown (0), so actual weight decides."""
    return item.length_in * item.width_in * item.height_in


def billed_weight_lb(service: CarrierService, actual_lb: float, volume_in3: float) -> float:
    """max(actual weight, volume / dim divisor); the actual weight when the service has no divisor."""
    if service.dim_divisor is None:
        return actual_lb
    return max(actual_lb, volume_in3 / service.dim_divisor)


def shipment_weight_and_volume(units: Iterable[tuple[int, float, Item | None]]) -> tuple[float, float]:
    """(pounds, cubic inches) of a shipment's (quantity, unit weight, catalogue item) lines; a line
    without an item has no known volume."""
    pounds = volume = 0.0
    for qty, unit_weight_lb, item in units:
        pounds += qty * unit_weight_lb
        if item is not None:
            volume += qty * unit_volume_in3(item)
    return pounds, volume


class CarrierCharge(NamedTuple):
    """The parts of one shipment's carrier charge, in the network's currency."""

    zone: int
    billed_weight_lb: float
    base: float
    weight: float  # per_lb x billed weight
    residential: float
    non_contiguous: float
    remote_area: float

    @property
    def total(self) -> float:
        return self.base + self.weight + self.residential + self.non_contiguous + self.remote_area


def surcharges(service: CarrierService, ship_to: ShipTo) -> tuple[float, float, float]:
    """(residential, non-contiguous, remote area): what ``service`` adds to a shipment to ``ship_to``."""
    zip3 = ship_to.zip3
    return (
        service.residential_surcharge if ship_to.residential else 0.0,
        service.non_contiguous_surcharge if ship_to.region in NON_CONTIGUOUS_REGIONS else 0.0,
        service.remote_area_surcharge if zip3 and zip3 in service.remote_area_zip3 else 0.0,
    )


def carrier_charge(
    service: CarrierService, distance_miles: float, ship_to: ShipTo, actual_lb: float, volume_in3: float
) -> CarrierCharge:
    """The charge for one shipment by ``service`` to ``ship_to``, ``distance_miles`` from the node."""
    zone = service.zone_of(distance_miles, ship_to.region)
    row = service.zone(zone)
    billed = billed_weight_lb(service, actual_lb, volume_in3)
    residential, non_contiguous, remote_area = surcharges(service, ship_to)
    return CarrierCharge(zone, billed, row.base, row.per_lb * billed, residential, non_contiguous, remote_area)


def charges_by_zone(service: CarrierService, ship_to: ShipTo, actual_lb: float, volume_in3: float) -> list[float]:
    """``carrier_charge(...).total`` for one shipment by ``service`` to ``ship_to`` in each zone of its
    chart (by 1-based zone index; index 0 unused): the same sum, in the same order, so equal to
    the last bit. What checkout reads per candidate node instead of pricing each one."""
    billed = billed_weight_lb(service, actual_lb, volume_in3)
    residential, non_contiguous, remote_area = surcharges(service, ship_to)
    charges = [row.base + row.per_lb * billed + residential + non_contiguous + remote_area for row in service.zones]
    charges.insert(0, 0.0)
    return charges
