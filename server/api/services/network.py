"""NetworkService: nodes, rate tables, the item catalogue and inventory, straight onto the store.

A thin shell: convert (which validates every field and bound), call the store, convert back.
Errors are raised, never turned into statuses here (server/api/status.py does that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import grpc

from engine import limits
from engine.catalog.units import BASE_UNIT
from engine.errors import FieldViolation, InvalidInputError
from engine.promise.model import carrier_services_in_force
from engine.rates import rate_tables_in_force
from server.api import catalog_convert, convert, promise_convert
from server.api.order_proto import request_hash
from server.api.proto import network_pb2, network_pb2_grpc
from server.api.services.deps import ServiceDeps
from server.api.services.resourcing import Resourcer
from server.api.sku_resolution import barcode_problem, resolve_inventory_updates, resolve_values
from server.errors import InvalidRequestError, MissingStandardRateError
from server.store.base import InventoryUpdate, InventoryUpdateResult, RequestKey, UpdateKind, UpdateOutcome
from server.store.page_tokens import decode_page_token, encode_page_token

# An absolute count dated further ahead than this is refused: a sender's clock gone wrong would
# otherwise make every later, correct count look stale until that time.
MAX_CLOCK_SKEW = timedelta(hours=24)
_MAX_TYPE_FILTERS = len(convert.NODE_TYPE_FROM_PROTO)


def _request_key(c: convert.Collector, request: network_pb2.UpdateInventoryRequest) -> RequestKey | None:
    """The call's idempotency key; None when the caller sent none (each call then applies)."""
    if not request.request_key:
        return None
    convert.check_id(c, "request_key", request.request_key)
    return RequestKey(request.request_key, "UpdateInventory", request_hash("UpdateInventory", request))


def _inventory_response(results: Sequence[InventoryUpdateResult]) -> network_pb2.UpdateInventoryResponse:
    return network_pb2.UpdateInventoryResponse(results=[convert.update_result_to_proto(r) for r in results])


class NetworkService(network_pb2_grpc.NetworkServiceServicer):  # type: ignore[misc]
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._store = deps.store
        self._currency = deps.config.currency
        self._resourcer = Resourcer(deps)

    def UpsertNodes(
        self, request: network_pb2.UpsertNodesRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertNodesResponse:
        nodes = convert.nodes_from_proto(request.nodes, self._currency)
        self._store.upsert_nodes(nodes)
        self._deps.network.invalidate()  # decisions must see the new nodes
        return network_pb2.UpsertNodesResponse(upserted_count=len(nodes))

    def ListNodes(
        self, request: network_pb2.ListNodesRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListNodesResponse:
        c = convert.Collector()
        c.check(
            0 <= request.page_size <= limits.MAX_PAGE_SIZE, "page_size", f"must be between 0 and {limits.MAX_PAGE_SIZE}"
        )
        types = []
        if convert.check_count(c, "types", len(request.types), 0, _MAX_TYPE_FILTERS, "types"):
            for i, value in enumerate(request.types):
                node_type = convert.NODE_TYPE_FROM_PROTO.get(value)
                c.check(node_type is not None, f"types[{i}]", "must be a known node type, not UNSPECIFIED")
                if node_type is not None:
                    types.append(node_type)
        convert.check_id(c, "tag", request.tag, required=False)
        convert.check_text(c, "page_token", request.page_token, 1024)
        c.raise_if_any()
        try:
            page = self._store.list_nodes(
                types=types,
                tag=request.tag,
                page_size=request.page_size or limits.DEFAULT_PAGE_SIZE,
                page_token=request.page_token,
            )
        except InvalidRequestError as error:  # the only argument the store can find bad here
            raise InvalidInputError(FieldViolation("page_token", str(error))) from None
        return network_pb2.ListNodesResponse(
            nodes=[convert.node_to_proto(node, self._currency) for node in page.nodes],
            next_page_token=page.next_page_token,
        )

    def UpsertRateTables(
        self, request: network_pb2.UpsertRateTablesRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertRateTablesResponse:
        tables = convert.rate_tables_from_proto(request.rate_tables, self._currency)
        try:
            self._store.upsert_rate_tables(tables)
        except MissingStandardRateError as error:
            raise InvalidInputError(FieldViolation("rate_tables", str(error))) from None
        self._deps.network.invalidate()  # decisions must price with the new rates
        return network_pb2.UpsertRateTablesResponse(upserted_count=len(tables))

    def ListRateTables(
        self, request: network_pb2.ListRateTablesRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListRateTablesResponse:
        stored = self._store.rate_tables()
        tables = rate_tables_in_force(stored)
        return network_pb2.ListRateTablesResponse(
            rate_tables=[convert.rate_table_to_proto(t, self._currency) for _, t in sorted(tables.items())],
            defaults=not stored,
        )

    # --- promise data (docs/promise.md) --------------------------------------------------

    def UpsertHolidayCalendars(
        self, request: network_pb2.UpsertHolidayCalendarsRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertHolidayCalendarsResponse:
        calendars = promise_convert.holiday_calendars_from_proto(request.holiday_calendars)
        self._store.upsert_holiday_calendars(calendars)
        self._deps.network.invalidate()
        return network_pb2.UpsertHolidayCalendarsResponse(upserted_count=len(calendars))

    def ListHolidayCalendars(
        self, request: network_pb2.ListHolidayCalendarsRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListHolidayCalendarsResponse:
        calendars = self._store.holiday_calendars()
        return network_pb2.ListHolidayCalendarsResponse(
            holiday_calendars=[promise_convert.holiday_calendar_to_proto(k, v) for k, v in sorted(calendars.items())]
        )

    def UpsertCarrierServices(
        self, request: network_pb2.UpsertCarrierServicesRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertCarrierServicesResponse:
        calendars = (
            self._store.holiday_calendars() if any(s.holiday_calendars for s in request.carrier_services) else {}
        )
        services = promise_convert.carrier_services_from_proto(request.carrier_services, calendars, self._currency)
        self._store.upsert_carrier_services(services)
        self._deps.network.invalidate()  # promises must use the new services
        return network_pb2.UpsertCarrierServicesResponse(upserted_count=len(services))

    def ListCarrierServices(
        self, request: network_pb2.ListCarrierServicesRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListCarrierServicesResponse:
        stored = self._store.carrier_services()
        in_force = carrier_services_in_force(stored, self._store.rate_tables())
        return network_pb2.ListCarrierServicesResponse(
            carrier_services=[
                promise_convert.carrier_service_to_proto(s, self._currency) for _, s in sorted(in_force.items())
            ],
            defaults=not stored,
        )

    def UpsertNodeSchedules(
        self, request: network_pb2.UpsertNodeSchedulesRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertNodeSchedulesResponse:
        calendars = self._store.holiday_calendars() if any(s.holiday_calendars for s in request.schedules) else {}
        schedules = promise_convert.node_schedules_from_proto(request.schedules, calendars)
        self._store.upsert_node_schedules(schedules)
        self._deps.network.invalidate()  # promises must use the new schedules
        return network_pb2.UpsertNodeSchedulesResponse(upserted_count=len(schedules))

    def ListNodeSchedules(
        self, request: network_pb2.ListNodeSchedulesRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListNodeSchedulesResponse:
        return network_pb2.ListNodeSchedulesResponse(
            schedules=[promise_convert.node_schedule_to_proto(s) for s in self._store.node_schedules()]
        )

    def UpsertItems(
        self, request: network_pb2.UpsertItemsRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertItemsResponse:
        items = convert.items_from_proto(request.items)
        self._store.upsert_items(items)
        self._deps.items.invalidate()  # decisions must see the new weights and tags
        return network_pb2.UpsertItemsResponse(upserted_count=len(items))

    def UpsertSkuAliases(
        self, request: network_pb2.UpsertSkuAliasesRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertSkuAliasesResponse:
        aliases = catalog_convert.aliases_from_proto(request.aliases)
        self._store.upsert_sku_aliases(aliases, remap=request.remap)
        self._deps.items.invalidate()  # order lines must resolve the new aliases
        return network_pb2.UpsertSkuAliasesResponse(upserted_count=len(aliases))

    def ListSkuAliases(
        self, request: network_pb2.ListSkuAliasesRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListSkuAliasesResponse:
        c = convert.Collector()
        skus = convert.ids_from_proto(c, "skus", request.skus, limits.MAX_AVAILABILITY_SKUS, "SKUs")
        c.check(
            0 <= request.page_size <= limits.MAX_PAGE_SIZE, "page_size", f"must be between 0 and {limits.MAX_PAGE_SIZE}"
        )
        after = ""
        if request.page_token:
            try:
                after = decode_page_token(request.page_token)
            except InvalidRequestError as error:
                c.add("page_token", str(error))
        c.raise_if_any()
        size = request.page_size or limits.DEFAULT_PAGE_SIZE
        found = self._store.sku_aliases(skus, after, size + 1)
        response = network_pb2.ListSkuAliasesResponse(aliases=[catalog_convert.alias_to_proto(a) for a in found[:size]])
        if len(found) > size:
            response.next_page_token = encode_page_token(found[size - 1].alias)
        return response

    def UpsertItemUnits(
        self, request: network_pb2.UpsertItemUnitsRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpsertItemUnitsResponse:
        units = catalog_convert.units_from_proto(request.units)
        self._store.upsert_item_units(units)
        self._deps.items.invalidate()  # order lines and counts must convert with the new factors
        return network_pb2.UpsertItemUnitsResponse(upserted_count=len(units))

    def ListItemUnits(
        self, request: network_pb2.ListItemUnitsRequest, context: grpc.ServicerContext
    ) -> network_pb2.ListItemUnitsResponse:
        c = convert.Collector()
        if convert.check_count(c, "skus", len(request.skus), 1, limits.MAX_AVAILABILITY_SKUS, "SKUs"):
            convert.ids_from_proto(c, "skus", request.skus, limits.MAX_AVAILABILITY_SKUS, "SKUs")
        c.raise_if_any()
        skus = sorted(set(request.skus))
        known = self._store.get_items(skus)
        declared = self._store.item_units(skus)
        response = network_pb2.ListItemUnitsResponse()
        for sku in skus:
            if sku in known:
                response.units.add(sku=sku, unit=BASE_UNIT, factor=1)
                response.units.extend(catalog_convert.unit_to_proto(u) for u in declared.get(sku, ()))
        return response

    def UpdateInventory(
        self, request: network_pb2.UpdateInventoryRequest, context: grpc.ServicerContext
    ) -> network_pb2.UpdateInventoryResponse:
        now = self._deps.clock()
        c = convert.Collector()
        key = _request_key(c, request)  # the request as sent: a retry with the same aliases matches
        if len(request.updates) <= limits.MAX_INVENTORY_UPDATES_PER_CALL:
            # Aliases and barcodes become SKUs, cases become eaches, before anything is stored.
            c.items.extend(resolve_inventory_updates(self._deps.items, request.updates))
        try:
            updates = convert.inventory_updates_from_proto(request.updates, not_after=now + MAX_CLOCK_SKEW)
        except InvalidInputError as error:  # every bad field in one answer, the key's too
            c.items.extend(error.violations)
        c.raise_if_any()
        if key is None:
            results = self._store.update_inventory(updates, now=now)
            self._heal(updates, results)
            return _inventory_response(results)
        built: list[network_pb2.UpdateInventoryResponse] = []

        def respond(results: Sequence[InventoryUpdateResult]) -> bytes:
            built.append(_inventory_response(results))  # returned as is: not parsed back
            return built[-1].SerializeToString(deterministic=True)

        stored, applied = self._store.update_inventory_once(key, updates, now, respond)
        if applied is None:  # a retry: nothing arrived now, so nothing heals
            return network_pb2.UpdateInventoryResponse.FromString(stored)
        self._heal(updates, applied)
        return built[-1]

    def _heal(self, updates: Sequence[InventoryUpdate], results: Sequence[InventoryUpdateResult]) -> None:
        """Stock arrived, or holds gave way to a count: source the orders waiting for those SKUs again
        (highest priority, then oldest), after the counts committed.

        A stale count (ignored) or a negative delta brings nothing, so it heals nothing, unless it
        left orders short: they are re-sourced elsewhere like any backorder. Healing never fails
        the update, which is already durable; what is not healed now heals later.
        """
        arrived = {
            u.sku
            for u, r in zip(updates, results, strict=True)
            if r.outcome == UpdateOutcome.APPLIED
            and (u.kind == UpdateKind.ABSOLUTE or u.quantity > 0 or r.shorted_units > 0)
        }
        if arrived:
            self._resourcer.heal_after_commit(arrived)

    def GetAvailability(
        self, request: network_pb2.GetAvailabilityRequest, context: grpc.ServicerContext
    ) -> network_pb2.GetAvailabilityResponse:
        c = convert.Collector()
        if convert.check_count(c, "skus", len(request.skus), 1, limits.MAX_AVAILABILITY_SKUS, "SKUs"):
            convert.ids_from_proto(c, "skus", request.skus, limits.MAX_AVAILABILITY_SKUS, "SKUs")
        node_ids = convert.ids_from_proto(c, "node_ids", request.node_ids, limits.MAX_NODES_PER_CALL, "node ids")
        # Aliases and barcodes read as the SKUs they name (positions report the catalogue SKU).
        resolved = resolve_values(self._deps.items, request.skus)
        for i, sku in enumerate(request.skus):
            problem = barcode_problem(sku, resolved)
            if problem is not None:
                c.add(f"skus[{i}]", problem)
        c.raise_if_any()
        skus = [resolved.get(sku, sku) for sku in request.skus]
        positions = self._store.get_availability(
            list(dict.fromkeys(skus)), list(dict.fromkeys(node_ids)), now=self._deps.clock()
        )
        return network_pb2.GetAvailabilityResponse(positions=[convert.position_to_proto(p) for p in positions])
