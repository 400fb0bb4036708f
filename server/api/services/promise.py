"""Promise and PromiseProducts (SourcingService): checkout's delivery options and product pages'
"get it by" dates. A thin shell over engine.promise.checkout: check the request, read the
available stock of the SKUs asked about, the planner's rules about time for the cart as an order
(as a decision reads them), ask the engine, convert back.

Kept lean for checkout's rate (docs/promise.md, "Speed"): the network's calculator, calendars and
node coordinates are built once per network version (engine.promise.checkout.promise_network),
and each node's ship day, order-by, zone and delivery day per service are looked up in tables kept
per network version, ship board and ship-to (engine.promise.checkout_tables);
available stock comes from an in-process view the store's stock generation keeps current
(server/api/stock_view.py); the rules are evaluated only when a rule in force is about time; a
ZIP code's place is looked up once per process; the response is one constructor call; nothing
here touches numpy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from google.protobuf import timestamp_pb2

from engine import limits
from engine.model import GeoPoint, Item, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.promise.calculator import epoch_seconds
from engine.promise.checkout import CartLine, DeliveryOption, ProductDate, PromiseNetwork, Stock
from engine.promise.checkout_tables import (
    CheckoutTables,
    cart_options_by_lookup,
    checkout_tables,
    product_dates_by_lookup,
)
from engine.promise.model import ShipTo
from engine.promise.time_rules import TimeRules, time_rules
from engine.rules.model import RuleSet
from server.api import convert
from server.api.convert.addresses import check_postal_address, country_of, place_address
from server.api.proto import common_pb2, sourcing_pb2
from server.api.services.deps import ServiceDeps, pilot_scope
from server.api.sku_resolution import (
    Translation,
    add_translations,
    barcode_problem,
    resolve_cart_lines,
    resolve_values,
)
from server.api.stock_view import StockView
from server.geocode import PostalPlace, postal_code_place
from server.served_area import ServedArea, region_of_point, region_of_state

_ZIP_PLACES_KEPT = 65_536  # every US ZIP code fits: a process looks each one up once


@functools.lru_cache(maxsize=_ZIP_PLACES_KEPT)
def _place(country_code: str, postal_code: str) -> PostalPlace | None:
    return postal_code_place(country_code, postal_code)


_DAYS: dict[int, str] = {}  # date ordinal -> YYYY-MM-DD: checkout shows the same few weeks all day
_DAYS_KEPT = 4_096


def _day(ordinal: int) -> str:
    text = _DAYS.get(ordinal)
    if text is None:
        if len(_DAYS) >= _DAYS_KEPT:
            _DAYS.clear()
        text = _DAYS[ordinal] = date.fromordinal(ordinal).isoformat() if ordinal else ""
    return text


class Promiser:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._currency = deps.config.currency
        self._served = ServedArea.parse(deps.config.served_regions)
        self._pilot = pilot_scope(deps.config)
        self._stock = StockView(deps.store)
        self._about_time: tuple[RuleSet | None, bool] = (None, False)

    # --- the request --------------------------------------------------------------------------------

    def _ship_to(
        self,
        c: convert.Collector,
        point_msg: common_pb2.GeoPoint,
        has_point: bool,
        address: common_pb2.PostalAddress,
        has_address: bool,
        residential: bool,
    ) -> tuple[GeoPoint | None, ShipTo]:
        """The ship-to's point and what carriers price by (its region, postal code, residential)."""
        postal = address.postal_code if has_address else ""
        if has_address and not check_postal_address(c, "ship_to_address", address):
            return None, ShipTo()
        if has_point:
            point = convert.geo_from_proto(c, "ship_to", point_msg)
            region = region_of_point(point.lat, point.lon) if point is not None else None
            inside = self._served.anywhere or region in self._served.regions  # one outline test, not two
            field = "ship_to"
        elif postal:
            field = "ship_to_address.postal_code"
            convert.check_id(c, field, postal)
            place = _place(country_of(address), postal)
            if place is None:
                place_address(c, "", address)  # says why: unknown code, or coordinates required
                return None, ShipTo()
            point = place.point
            # A US state is placed by the table; a Canadian FSA by its centroid's region.
            region = region_of_state(place.state) if place.country == "US" else region_of_point(point.lat, point.lon)
            inside = self._served.anywhere or region in self._served.regions
        else:
            c.add("ship_to", "is required (coordinates, or ship_to_address with a postal code)")
            return None, ShipTo()
        if point is not None and not inside:
            c.add(field, f"is outside the area this service ships to ({self._served.describe()})")
        return point, ShipTo(region=region or "", postal_code=postal.strip(), residential=residential)

    def _at(self, c: convert.Collector, has_at: bool, msg: timestamp_pb2.Timestamp) -> int:
        now = self._deps.clock()
        if not has_at:
            return epoch_seconds(now)
        at = convert.timestamp_from_proto(c, "at", msg)
        if at is None:
            return epoch_seconds(now)
        reach = timedelta(days=limits.MAX_PROMISE_AHEAD_DAYS)
        c.check(now - reach <= at <= now + reach, "at", f"must be within {limits.MAX_PROMISE_AHEAD_DAYS} days of now")
        return epoch_seconds(at)

    def stock(self, network: PromiseNetwork, skus: Sequence[str]) -> Stock:
        """Available units per SKU and node index (on hand less live holds and protections), from
        the in-process view kept current by the store's stock generation (server/api/stock_view.py)."""
        return self._stock.available(network.index, skus, self._deps.clock())

    def _rules_about_time(self) -> bool:
        """Some rule in force can make a rule about time; without one there is nothing to evaluate."""
        rule_set = self._deps.rules.get()
        if rule_set is None:
            return False
        about_time = self._about_time
        if about_time[0] is not rule_set:  # worked out once per rule set, not on every call
            about_time = self._about_time = (rule_set, any(r.then.about_time for r in rule_set.rules))
        return about_time[1]

    def _time_rules(self, snapshot: NetworkSnapshot, point: GeoPoint, lines: Sequence[CartLine]) -> TimeRules | None:
        """The active rules about time for an order of ``lines`` to ``point`` (no channel, no
        customer: what checkout knows), evaluated as a decision evaluates them, so a closed node or
        a peak cut-off moves checkout's dates as it moves the decision's."""
        if not self._rules_about_time():
            return None
        order = Order(
            "checkout",
            point,
            tuple(
                OrderLine(
                    line.line_id, line.sku, line.qty, line.unit_weight_lb, line.item.hazmat if line.item else False
                )
                for line in lines
            ),
        )
        return time_rules(self._deps.rules.directives_for(order, snapshot))

    # --- Promise ------------------------------------------------------------------------------------

    def promise(self, request: sourcing_pb2.PromiseRequest) -> sourcing_pb2.PromiseResponse:
        asked = self.checked_cart(request)
        snapshot = self._deps.network.get()
        tables = checkout_tables(snapshot)
        cart, rules = self.cart_and_rules(snapshot, asked)
        options = self.options(tables, cart, self.stock(tables.network, [line.sku for line in cart]), asked, rules)
        return self.promise_response(options, asked.translations, snapshot.version)

    # The phases of ``promise``, each public so benchmarks.promise_phases counts them one by one.

    def checked_cart(self, request: sourcing_pb2.PromiseRequest) -> CartRequest:
        """The request checked (INVALID_ARGUMENT naming the field) and converted."""
        c = convert.Collector()
        lines: list[tuple[str, str, int]] = []
        translations: list[Translation] = []
        if convert.check_count(c, "lines", len(request.lines), 1, limits.MAX_CART_LINES, "lines"):
            # Aliases and barcodes read as the SKUs they name, units as base units (before duplicates are looked for).
            violations, translations = resolve_cart_lines(self._deps.items, request.lines)
            c.items.extend(violations)
            line_ids: dict[str, int] = {}
            skus: dict[str, int] = {}
            for i, line in enumerate(request.lines):
                path = f"lines[{i}]"
                convert.check_id(c, f"{path}.line_id", line.line_id)
                convert.check_id(c, f"{path}.sku", line.sku)
                if line.line_id in line_ids:
                    c.add(f"{path}.line_id", f"duplicates lines[{line_ids[line.line_id]}].line_id")
                if line.sku in skus:
                    c.add(f"{path}.sku", f"duplicates lines[{skus[line.sku]}].sku: one line per SKU")
                line_ids.setdefault(line.line_id, i)
                skus.setdefault(line.sku, i)
                c.check(
                    1 <= line.qty <= limits.MAX_QTY_PER_LINE,
                    f"{path}.qty",
                    f"must be between 1 and {limits.MAX_QTY_PER_LINE}",
                )
                lines.append((line.line_id, line.sku, line.qty))
        point, ship_to = self._ship_to(
            c,
            request.ship_to,
            request.HasField("ship_to"),
            request.ship_to_address,
            request.HasField("ship_to_address"),
            request.residential,
        )
        at = self._at(c, request.HasField("at"), request.at)
        c.raise_if_any()
        assert point is not None  # a ship-to without a point was a violation above
        self._pilot.check(None, [(f"lines[{i}].sku", sku) for i, (_, sku, _) in enumerate(lines)], "")
        return CartRequest(lines, translations, point, ship_to, at)

    def cart_and_rules(self, snapshot: NetworkSnapshot, asked: CartRequest) -> tuple[list[CartLine], TimeRules | None]:
        """The cart's lines with their items, and the rules about time for it."""
        items = self._deps.items.get_items([sku for _, sku, _ in asked.lines])
        cart = [_cart_line(line_id, sku, qty, items.get(sku)) for line_id, sku, qty in asked.lines]
        return cart, self._time_rules(snapshot, asked.point, cart)

    def options(
        self, tables: CheckoutTables, cart: list[CartLine], stock: Stock, asked: CartRequest, rules: TimeRules | None
    ) -> list[DeliveryOption]:
        """The engine's options (read from the network's checkout tables), earliest first."""
        point = asked.point
        options = cart_options_by_lookup(tables, cart, stock, point.lat, point.lon, asked.ship_to, asked.at, rules)
        options.sort(key=lambda o: (o.delivery_day == 0, o.delivery_day, o.cost, o.carrier_service))
        return options

    def promise_response(
        self, options: Sequence[DeliveryOption], translations: Sequence[Translation], version: str
    ) -> sourcing_pb2.PromiseResponse:
        # One constructor call with the nested fields as dicts: a message call per field and per
        # nested message cost more than the options' own dates and costs (docs/promise.md, "Speed").
        response = sourcing_pb2.PromiseResponse(options=[self._option(o) for o in options], network_version=version)
        add_translations(response.translated_lines, translations)
        return response

    def _option(self, option: DeliveryOption) -> dict[str, object]:
        currency = self._currency

        def money(units: float) -> dict[str, object]:
            return {"currency_code": currency, "amount_micros": convert.units_to_micros(units)}

        return {
            "carrier_service": option.carrier_service,
            "carrier": option.carrier,
            "service_level": option.service_level,
            "delivery_date": _day(option.delivery_day),
            "order_by": {"seconds": option.order_by},
            "cost": money(option.cost),
            "carrier_charge": money(option.carrier_charge),
            "ships_complete": option.ships_complete,
            "node_ids": [s.node_id for s in option.shipments],
            "shipments": [
                {
                    "node_id": s.node_id,
                    "ship_date": _day(s.ship_day),
                    "delivery_date": _day(s.delivery_day),
                    "allocations": [{"line_id": line_id, "node_id": s.node_id, "qty": qty} for line_id, qty in s.units],
                    "cost": money(s.cost),
                    "carrier_charge": money(s.carrier_charge),
                }
                for s in option.shipments
            ],
            "short_lines": [{"line_id": line_id, "qty": qty} for line_id, qty in option.short],
        }

    # --- PromiseProducts ----------------------------------------------------------------------------

    def promise_products(self, request: sourcing_pb2.PromiseProductsRequest) -> sourcing_pb2.PromiseProductsResponse:
        asked = self.checked_products(request)
        snapshot = self._deps.network.get()
        tables = checkout_tables(snapshot)
        wanted = list(dict.fromkeys(asked.catalogue.values()))  # two aliases of one SKU: decided once
        stock = self.stock(tables.network, wanted)  # a node holding a unit is all one unit's date needs
        rules = self.product_rules(snapshot, asked.point, wanted)
        point = asked.point
        products = product_dates_by_lookup(tables, wanted, stock, point.lat, point.lon, asked.ship_to, asked.at, rules)
        return self.products_response(asked, products, snapshot.version)

    # The phases of ``promise_products``, each public so benchmarks.promise_phases counts them.

    def checked_products(self, request: sourcing_pb2.PromiseProductsRequest) -> ProductsRequest:
        c = convert.Collector()
        skus: list[str] = []
        if convert.check_count(c, "skus", len(request.skus), 1, limits.MAX_PRODUCT_SKUS, "SKUs"):
            seen: dict[str, int] = {}
            for i, sku in enumerate(request.skus):
                convert.check_id(c, f"skus[{i}]", sku)
                if sku in seen:
                    c.add(f"skus[{i}]", f"duplicates skus[{seen[sku]}]")
                seen.setdefault(sku, i)
                skus.append(sku)
        point, ship_to = self._ship_to(
            c,
            request.ship_to,
            request.HasField("ship_to"),
            request.ship_to_address,
            request.HasField("ship_to_address"),
            request.residential,
        )
        at = self._at(c, request.HasField("at"), request.at)
        # Aliases and barcodes read as the SKUs they name; an unknown value is a product with no stock.
        resolved = resolve_values(self._deps.items, skus)
        for i, sku in enumerate(skus):
            problem = barcode_problem(sku, resolved)
            if problem is not None:
                c.add(f"skus[{i}]", problem)
        catalogue = {sku: resolved.get(sku, sku) for sku in skus}
        c.raise_if_any()
        assert point is not None
        self._pilot.check(None, [(f"skus[{i}]", catalogue[sku]) for i, sku in enumerate(skus)], "")
        return ProductsRequest(skus, catalogue, point, ship_to, at)

    def product_rules(self, snapshot: NetworkSnapshot, point: GeoPoint, skus: Sequence[str]) -> TimeRules | None:
        """The rules about time as for one order of a unit of each product."""
        if not self._rules_about_time():
            return None
        items = self._deps.items.get_items(skus)
        return self._time_rules(snapshot, point, [_cart_line(sku, sku, 1, items.get(sku)) for sku in skus])

    def products_response(
        self, asked: ProductsRequest, products: Sequence[ProductDate], version: str
    ) -> sourcing_pb2.PromiseProductsResponse:
        dates = {p.sku: p for p in products}
        found = []
        for sku in asked.skus:
            product = dates[asked.catalogue[sku]]
            if product.delivery_day:
                found.append(
                    {
                        "sku": sku,
                        "catalogue_sku": product.sku,
                        "available": True,
                        "delivery_date": _day(product.delivery_day),
                        "carrier_service": product.carrier_service,
                        "node_id": product.node_id,
                        "order_by": {"seconds": product.order_by},
                    }
                )
            else:
                found.append({"sku": sku, "catalogue_sku": product.sku, "available": False})
        return sourcing_pb2.PromiseProductsResponse(products=found, network_version=version)


@dataclass(frozen=True, slots=True)
class ProductsRequest:
    """A checked PromiseProducts request: the SKUs as asked, each one's catalogue SKU, the
    ship-to's point and what carriers price by, and the instant asked about."""

    skus: list[str]
    catalogue: dict[str, str]
    point: GeoPoint
    ship_to: ShipTo
    at: int


@dataclass(frozen=True, slots=True)
class CartRequest:
    """A checked Promise request: its lines (line id, SKU, base units), the SKU translations to
    report, the ship-to's point and what carriers price by, and the instant asked about."""

    lines: list[tuple[str, str, int]]
    translations: list[Translation]
    point: GeoPoint
    ship_to: ShipTo
    at: int


def _cart_line(line_id: str, sku: str, qty: int, item: Item | None) -> CartLine:
    return CartLine(line_id, sku, qty, item.unit_weight_lb if item is not None else 0.0, item)
