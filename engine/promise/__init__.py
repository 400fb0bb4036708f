"""Delivery promises: node calendars, cut-offs, carrier services and the date calculator (pure).

- ``model``: the data (``NodeSchedule``, ``Cutoff``, ``CarrierService``, ``ZoneRate``, ``ShipTo``).
- ``calculator``: ``PromiseCalculator``, ship, delivery and pickup-ready dates.
- ``pricing``: billed weight and a carrier service's charge for one shipment.
- ``calendar``, ``zones``: the integer calendars and time zones underneath.

docs/promise.md states the rules with worked examples.
"""
