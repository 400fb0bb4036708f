"""Conversions between protobuf messages and engine/store types.

Every ``*_from_proto`` function checks everything it is given and raises one
:class:`~engine.errors.InvalidInputError` carrying every violation, each with its full
request path (``nodes[2].location.lat``, ``order.lines[1].qty``): the caller can fix a whole
request from one answer. The engine constructors do the domain checks; this module adds what
only the wire can get wrong (missing messages, UNSPECIFIED enums, currencies, timestamps).

The package is split by message family (``fields``, ``network``, ``orders``); callers import the
package (``from server.api import convert``) and use the names below.
"""

from server.api.convert.fields import (
    MICROS_PER_UNIT,
    Collector,
    check_attributes,
    check_count,
    check_id,
    check_text,
    geo_from_proto,
    geo_to_proto,
    ids_from_proto,
    join,
    micros_to_units,
    money_from_proto,
    money_to_proto,
    set_money,
    timestamp_from_proto,
    timestamp_to_proto,
    units_to_micros,
)
from server.api.convert.network import (
    NODE_TYPE_FROM_PROTO,
    NODE_TYPE_TO_PROTO,
    inventory_updates_from_proto,
    item_from_proto,
    item_to_proto,
    items_from_proto,
    node_from_proto,
    node_to_proto,
    nodes_from_proto,
    position_to_proto,
    rate_table_from_proto,
    rate_table_to_proto,
    rate_tables_from_proto,
    update_result_to_proto,
)
from server.api.convert.orders import (
    MAX_ADDRESS_LINES,
    order_from_proto,
    order_into,
    order_line_from_proto,
    rule_fact_attributes,
)

__all__ = [
    "MAX_ADDRESS_LINES",
    "MICROS_PER_UNIT",
    "NODE_TYPE_FROM_PROTO",
    "NODE_TYPE_TO_PROTO",
    "Collector",
    "check_attributes",
    "check_count",
    "check_id",
    "check_text",
    "geo_from_proto",
    "geo_to_proto",
    "ids_from_proto",
    "inventory_updates_from_proto",
    "item_from_proto",
    "item_to_proto",
    "items_from_proto",
    "join",
    "micros_to_units",
    "money_from_proto",
    "money_to_proto",
    "node_from_proto",
    "node_to_proto",
    "nodes_from_proto",
    "order_from_proto",
    "order_into",
    "order_line_from_proto",
    "position_to_proto",
    "rate_table_from_proto",
    "rate_table_to_proto",
    "rate_tables_from_proto",
    "rule_fact_attributes",
    "set_money",
    "timestamp_from_proto",
    "timestamp_to_proto",
    "units_to_micros",
    "update_result_to_proto",
]
