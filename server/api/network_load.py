"""Putting a network file into a service: straight into a store, or as gRPC requests in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import Message

from engine import limits
from engine.errors import SourcingError
from engine.promise.model import NodeSchedule
from server.api import convert, promise_convert
from server.api.catalog_convert import MAX_ALIASES_PER_CALL, MAX_UNITS_PER_CALL, alias_to_proto, unit_to_proto
from server.api.proto import network_pb2
from server.network_file import NetworkFile
from server.store.base import InventoryUpdate, Store, UpdateKind

T = TypeVar("T")


class CurrencyMismatchError(SourcingError, ValueError):
    def __init__(self, file_currency: str, service_currency: str) -> None:
        super().__init__(f"the network file is in {file_currency} but the service works in {service_currency}")


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_is_empty(store: Store) -> bool:
    return not store.list_nodes(page_size=1).nodes


def own_schedules(network: NetworkFile) -> list[NodeSchedule]:
    """The file's node schedules that are not the default one (a node without a stored schedule
    has it anyway): a file without promise data writes none."""
    return [s for s in network.node_schedules if s != NodeSchedule(s.node_id)]


def load_into_store(store: Store, network: NetworkFile, currency: str) -> None:
    """Write the whole network straight into ``store`` (serve --load-sample-if-empty)."""
    if network.currency != currency:
        raise CurrencyMismatchError(network.currency, currency)
    # The same bounds as the API, so the store never sees a larger write than a caller could send.
    for nodes in chunks(network.nodes, limits.MAX_NODES_PER_CALL):
        store.upsert_nodes(nodes)
    store.upsert_rate_tables(network.rate_tables)  # none when the file has no section: defaults stay
    # Promise data (docs/promise.md): services before the schedules whose cut-offs name them.
    store.upsert_holiday_calendars(network.holiday_calendars)
    store.upsert_carrier_services(network.carrier_services)
    for schedules in chunks(own_schedules(network), limits.MAX_NODES_PER_CALL):
        store.upsert_node_schedules(schedules)
    for items in chunks(network.items, limits.MAX_ITEMS_PER_CALL):
        store.upsert_items(items)
    for aliases in chunks(network.sku_aliases, MAX_ALIASES_PER_CALL):
        store.upsert_sku_aliases(aliases, remap=True)  # the file is the truth: a moved alias moves
    for units in chunks(network.item_units, MAX_UNITS_PER_CALL):
        store.upsert_item_units(units)
    for updates in chunks(network.inventory, limits.MAX_INVENTORY_UPDATES_PER_CALL):
        store.update_inventory(updates)


def inventory_update_to_proto(update: InventoryUpdate) -> network_pb2.InventoryUpdate:
    msg = network_pb2.InventoryUpdate(node_id=update.node_id, sku=update.sku)
    if update.kind is UpdateKind.ABSOLUTE:
        assert update.as_of is not None  # the store type requires it for ABSOLUTE
        msg.count.count = update.quantity
        msg.count.as_of.CopyFrom(convert.timestamp_to_proto(update.as_of))
    else:
        msg.delta = update.quantity
    return msg


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """The requests that load a network over gRPC, in the order they must be sent."""

    nodes: list[network_pb2.UpsertNodesRequest]
    items: list[network_pb2.UpsertItemsRequest]
    inventory: list[network_pb2.UpdateInventoryRequest]
    rate_tables: list[network_pb2.UpsertRateTablesRequest]
    # promise data, sent after nodes and rate tables: calendars, then services, then schedules
    holiday_calendars: list[network_pb2.UpsertHolidayCalendarsRequest] = field(default_factory=list)
    carrier_services: list[network_pb2.UpsertCarrierServicesRequest] = field(default_factory=list)
    schedules: list[network_pb2.UpsertNodeSchedulesRequest] = field(default_factory=list)
    # after the items they name, before the stock that may be counted under them
    sku_aliases: list[network_pb2.UpsertSkuAliasesRequest] = field(default_factory=list)
    item_units: list[network_pb2.UpsertItemUnitsRequest] = field(default_factory=list)

    def in_order(self) -> list[tuple[str, Message]]:
        """(RPC name, request) for every request, in the order a load must send them: nodes and
        rate tables, the promise data that names them, the catalogue, then the stock."""
        groups: tuple[tuple[str, Sequence[Message]], ...] = (
            ("UpsertNodes", self.nodes),
            ("UpsertRateTables", self.rate_tables),
            ("UpsertHolidayCalendars", self.holiday_calendars),
            ("UpsertCarrierServices", self.carrier_services),
            ("UpsertNodeSchedules", self.schedules),
            ("UpsertItems", self.items),
            ("UpsertSkuAliases", self.sku_aliases),
            ("UpsertItemUnits", self.item_units),
            ("UpdateInventory", self.inventory),
        )
        return [(name, request) for name, requests in groups for request in requests]

    @property
    def request_count(self) -> int:
        promise = len(self.holiday_calendars) + len(self.carrier_services) + len(self.schedules)
        catalogue = len(self.items) + len(self.sku_aliases) + len(self.item_units)
        return len(self.nodes) + len(self.rate_tables) + catalogue + len(self.inventory) + promise


def plan_requests(network: NetworkFile, chunk_size: int = 0) -> LoadPlan:
    """Requests within the API's per-call bounds (``chunk_size`` caps them further when > 0)."""

    def size(bound: int) -> int:
        return min(bound, chunk_size) if chunk_size > 0 else bound

    currency = network.currency
    return LoadPlan(
        nodes=[
            network_pb2.UpsertNodesRequest(nodes=[convert.node_to_proto(n, currency) for n in part])
            for part in chunks(network.nodes, size(limits.MAX_NODES_PER_CALL))
        ],
        items=[
            network_pb2.UpsertItemsRequest(items=[convert.item_to_proto(i) for i in part])
            for part in chunks(network.items, size(limits.MAX_ITEMS_PER_CALL))
        ],
        inventory=[
            network_pb2.UpdateInventoryRequest(updates=[inventory_update_to_proto(u) for u in part])
            for part in chunks(network.inventory, size(limits.MAX_INVENTORY_UPDATES_PER_CALL))
        ],
        # One request, never chunked: the file holds at most as many tables as one call takes,
        # and the set (STANDARD with it) is only valid whole.
        rate_tables=(
            [
                network_pb2.UpsertRateTablesRequest(
                    rate_tables=[convert.rate_table_to_proto(t, currency) for t in tables]
                )
            ]
            if (tables := network.rate_tables)
            else []
        ),
        # Each one request (a file holds at most as many as one call takes); schedules carry
        # their holidays as dates, so they name no calendar.
        holiday_calendars=(
            [
                network_pb2.UpsertHolidayCalendarsRequest(
                    holiday_calendars=[
                        promise_convert.holiday_calendar_to_proto(k, v)
                        for k, v in sorted(network.holiday_calendars.items())
                    ]
                )
            ]
            if network.holiday_calendars
            else []
        ),
        carrier_services=(
            [
                network_pb2.UpsertCarrierServicesRequest(
                    carrier_services=[
                        promise_convert.carrier_service_to_proto(s, currency) for s in network.carrier_services
                    ]
                )
            ]
            if network.carrier_services
            else []
        ),
        schedules=[
            network_pb2.UpsertNodeSchedulesRequest(schedules=[promise_convert.node_schedule_to_proto(s) for s in part])
            for part in chunks(own_schedules(network), size(limits.MAX_NODES_PER_CALL))
        ],
        sku_aliases=[
            network_pb2.UpsertSkuAliasesRequest(aliases=[alias_to_proto(a) for a in part], remap=True)
            for part in chunks(network.sku_aliases, size(MAX_ALIASES_PER_CALL))
        ],
        item_units=[
            network_pb2.UpsertItemUnitsRequest(units=[unit_to_proto(u) for u in part])
            for part in chunks(network.item_units, size(MAX_UNITS_PER_CALL))
        ],
    )
