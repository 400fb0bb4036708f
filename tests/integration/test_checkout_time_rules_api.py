"""Checkout's Promise and PromiseProducts read the planner's rules about time as decisions do, over
real gRPC on both stores: a node closed for a date range is gone from checkout's options on those
dates (and back after), a peak-day cut-off moves the date and the order-by, a rule requiring a
transit maximum leaves out the services it rules out, and in each case checkout's date is the
date Source decides.

The network is test_promise_api.py's (NEAR: GROUND only, 2 days; FAR: GROUND 4 days, NEXT_DAY 1
day before its 12:00 cut-off); the server's clock reads Tuesday 1 December 2026, 10:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.api.proto import sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.test_promise_api import HOME, by_service, cart, checkout  # noqa: F401 (the network fixture)
from tests.integration.test_promise_sourcing_api import api, clock, shipments, source  # noqa: F401
from tests.integration.test_time_rules_api import activate

CLOSED = """rules:
  - id: near-remodel
    then: {close: {node: {id: NEAR}, from: 2026-11-30, to: 2026-12-02, reason: remodel}}
"""
PEAK = """rules:
  - id: peak-cutoff
    then: {cutoff: {node: {id: FAR}, carrier_service: NEXT_DAY, from: 2026-12-01, to: 2026-12-01, time: "09:00"}}
"""
FAST = """rules:
  - id: two-days-at-most
    then: {ship_by: {max_transit_days: 2}}
"""


def options(stub: sourcing_pb2_grpc.SourcingServiceStub, at: datetime | None = None) -> dict[str, tuple]:
    request = cart(("A", 2))
    if at is not None:
        request.at.FromDatetime(at)
    return {
        sid: (o.delivery_date, list(o.node_ids), o.order_by.ToDatetime(tzinfo=UTC))
        for sid, o in by_service(stub.Promise(request)).items()
    }


def product(stub: sourcing_pb2_grpc.SourcingServiceStub, at: datetime | None = None) -> tuple[str, str, str]:
    request = sourcing_pb2.PromiseProductsRequest(skus=["A"], ship_to=HOME)
    request.at.FromDatetime(at or datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    found = stub.PromiseProducts(request).products[0]
    return found.delivery_date, found.carrier_service, found.node_id


def test_a_closed_node_is_gone_from_checkout_on_its_dates_and_the_decision_agrees(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    assert options(checkout)["GROUND"][:2] == ("2026-12-03", ["NEAR"])
    activate(api, CLOSED)
    ground = options(checkout)["GROUND"]
    # NEAR would ship Tue 1 Dec, inside its remodel: FAR's ground, four business days, Mon 7 Dec.
    assert ground[:2] == ("2026-12-07", ["FAR"])
    assert shipments(source(checkout)) == [("FAR", "GROUND", "2026-12-01", "2026-12-07")]
    # Ordered Thursday 3 December, NEAR ships that day, after the closure: it is back.
    assert options(checkout, datetime(2026, 12, 3, 10, 0, tzinfo=UTC))["GROUND"][:2] == ("2026-12-07", ["NEAR"])
    # A product page: NEXT_DAY from FAR is unchanged, the earliest anyway.
    assert product(checkout) == ("2026-12-02", "NEXT_DAY", "FAR")


def test_a_peak_cutoff_moves_checkouts_date_and_order_by_as_it_moves_the_decision(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    tuesday_noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert options(checkout)["NEXT_DAY"] == ("2026-12-02", ["FAR"], tuesday_noon)
    assert product(checkout) == ("2026-12-02", "NEXT_DAY", "FAR")
    activate(api, PEAK)
    # 10:00 is past the peak day's 09:00 cut-off: FAR ships Wednesday, arrives Thursday; the option
    # holds until Wednesday's own cut-off.
    assert options(checkout)["NEXT_DAY"] == ("2026-12-03", ["FAR"], datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert shipments(source(checkout, carrier_service="NEXT_DAY")) == [("FAR", "NEXT_DAY", "2026-12-02", "2026-12-03")]
    # The product page's earliest is now Thursday, GROUND from NEAR (tied with NEXT_DAY; the id first).
    assert product(checkout) == ("2026-12-03", "GROUND", "NEAR")
    # Ordered at 08:00 it makes the peak cut-off: Wednesday, order by 09:00.
    early = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert options(checkout, early)["NEXT_DAY"] == ("2026-12-02", ["FAR"], datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert product(checkout, early) == ("2026-12-02", "NEXT_DAY", "FAR")


def test_a_transit_maximum_leaves_out_the_services_it_rules_out(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    activate(api, FAST)
    found = options(checkout)
    # GROUND from NEAR takes 2 days (allowed); FAR's 4-day ground is out, NEXT_DAY stays.
    assert found["GROUND"][:2] == ("2026-12-03", ["NEAR"]) and found["NEXT_DAY"][:2] == ("2026-12-02", ["FAR"])
    big = by_service(checkout.Promise(cart(("A", 7))))["GROUND"]
    # 7 x A by ground needed FAR's units too (Mon 7 Dec); FAR is ruled out: NEAR's 5, 2 short.
    assert (big.delivery_date, list(big.node_ids)) == ("2026-12-03", ["NEAR"])
    assert [(s.line_id, s.qty) for s in big.short_lines] == [("L0", 2)]


NOT_ABOUT_TIME = """rules:
  - id: no-far
    then: {exclude: {node: {id: FAR}}}
"""


def test_a_rule_set_with_no_rule_about_time_leaves_checkout_alone_and_the_next_one_is_read(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    """Checkout skips evaluating a rule set none of whose rules is about time (an exclusion is the
    decision's business, not the dates'); activating one that has some is read at once."""
    before = options(checkout)
    activate(api, NOT_ABOUT_TIME)
    assert options(checkout) == before
    activate(api, CLOSED)
    assert options(checkout)["GROUND"][:2] == ("2026-12-07", ["FAR"])
