"""A list longer than any valid request holds is refused whole, before any element is read.

Found by the server fuzzer (tests/fuzz/): requests of a few MiB with hundreds of thousands of
entries in one list had every entry checked and reported, holding a handler thread for 3-30 s:
lines of Cancel, ConfirmShipment, Return and Reallocate (no order has more than
MAX_LINES_PER_ORDER), the state filters of ListOrders and ListExceptions (8 s for 1 MB), a rate
table's zone limits and rates (no table has more than MAX_RATE_ZONES zones).
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from engine import limits
from engine.orders.lifecycle import OrderState
from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import violations

TOO_MANY = limits.MAX_LINES_PER_ORDER * 25


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("Cancel", {}),
        ("ConfirmShipment", {"node_id": "DC-01"}),
        ("Return", {"disposition": orders_pb2.DISPOSITION_RESTOCK}),
        ("Reallocate", {"node_id": "DC-01"}),
    ],
)
def test_more_lines_than_an_order_has_are_one_violation(api: Api, method: str, fields: dict[str, Any]) -> None:
    lines = [orders_pb2.LineUnits(line_id="L", qty=1) for _ in range(TOO_MANY)]  # each also a duplicate
    request = getattr(orders_pb2, f"{method}Request")(request_key="k", order_id="O-1", lines=lines, **fields)
    stub = orders_pb2_grpc.OrderServiceStub(api.channel)
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, method)(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert found == {"lines": f"has {TOO_MANY} lines; at most {limits.MAX_LINES_PER_ORDER} are allowed in one call"}


@pytest.mark.parametrize("method", ["ListOrders", "ListExceptions"])
def test_a_state_filter_longer_than_there_are_states_is_one_violation(api: Api, method: str) -> None:
    states = [orders_pb2.ORDER_STATE_HELD] * 1000
    stub = orders_pb2_grpc.OrderServiceStub(api.channel)
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, method)(getattr(orders_pb2, f"{method}Request")(states=states), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == {"states": f"has 1000 states; at most {len(OrderState)} are allowed in one call"}


def test_a_rate_list_longer_than_any_table_is_one_violation(api: Api) -> None:
    usd = common_pb2.Money(currency_code="USD", amount_micros=1_000_000)
    table = network_pb2.RateTable(
        service_level="STANDARD", zone_limits_miles=[100.0], base=[usd, usd], per_lb=[usd] * 10_000
    )
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[table]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    expected = f"has 10000 entries; a table has at most {limits.MAX_RATE_ZONES} zones"
    assert violations(caught.value) == {"rate_tables[0].per_lb": expected}
