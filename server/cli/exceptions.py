"""``oms-sourcing exceptions ...``: a person works the exception queue from the command line.

``list`` shows the orders a rule holds or that wait for stock, oldest first; ``release``
approves a held order (it is allocated now), ``resource`` sources a waiting order's units
again, ``cancel`` cancels it. Each change carries a request key: the command prints the one it
used, and running it again with ``--request-key`` that key is exactly once (the stored answer
comes back, nothing is done twice). Exit codes follow server/cli/main.py: 0 ok, 1 the call failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

import grpc

from server.api.proto import orders_pb2, orders_pb2_grpc
from server.cli.client import open_channel, security_from_args

ClientFlags = Callable[[argparse.ArgumentParser, float], None]
ErrorPrinter = Callable[[grpc.RpcError, TextIO], None]
OrderStub = orders_pb2_grpc.OrderServiceStub
HasOrder = orders_pb2.AllocateResponse | orders_pb2.OrderResponse

STATES = {
    "held": orders_pb2.ORDER_STATE_HELD,
    "backordered": orders_pb2.ORDER_STATE_BACKORDERED,
    "partial": orders_pb2.ORDER_STATE_PARTIALLY_ALLOCATED,
    "partly-shipped": orders_pb2.ORDER_STATE_PARTIALLY_SHIPPED,
}
LIST_PAGE_SIZE = 100


def _stub(args: argparse.Namespace) -> orders_pb2_grpc.OrderServiceStub:
    channel = open_channel(args.target, security_from_args(args, os.environ))
    return orders_pb2_grpc.OrderServiceStub(channel)  # type: ignore[no-untyped-call]


def _request_key(args: argparse.Namespace, action: str) -> str:
    """The caller's key, or a new one, printed so that a retry can reuse it."""
    key: str = args.request_key or f"cli-{action}-{args.order_id}-{uuid.uuid4().hex[:12]}"
    print(f"request key: {key} (repeat with --request-key {key} to retry exactly once)", file=sys.stderr)
    return key


def _age(created: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _state(value: int) -> str:
    return orders_pb2.OrderState.Name(value).removeprefix("ORDER_STATE_")


def cmd_list(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    stub = _stub(args)
    request = orders_pb2.ListExceptionsRequest(
        states=[STATES[s] for s in args.state or ()], rule_id=args.rule, page_size=min(args.limit, LIST_PAGE_SIZE)
    )
    rows: list[orders_pb2.ExceptionView] = []
    try:
        while len(rows) < args.limit:
            response = stub.ListExceptions(request, timeout=args.timeout)
            rows += response.orders
            if not response.next_page_token:
                break
            request.page_token = response.next_page_token
    except grpc.RpcError as error:
        print_error(error, sys.stderr)
        return 1
    now = datetime.now(UTC)
    print(f"{'ORDER':<24} {'STATE':<20} {'WAITING':>7} {'AGE':>7}  REASON", file=out)
    for view in rows[: args.limit]:
        age = _age(view.created_at.ToDatetime(tzinfo=UTC), now)
        waiting = view.backordered_units + view.awaiting_review_units  # for stock, or for review
        print(f"{view.order_id:<24} {_state(view.state):<20} {waiting:>7} {age:>7}  {view.reason}", file=out)
    shown = min(len(rows), args.limit)
    print(f"{shown} order{'' if shown == 1 else 's'} shown", file=out)
    return 0


def _print_order(view: orders_pb2.OrderView, out: TextIO) -> None:
    print(f"{view.order_id}: {_state(view.state)}", file=out)
    for r in view.reservations:
        print(f"  reserved {r.qty} x {r.sku} (line {r.line_id}) at {r.node_id}", file=out)
    for line in view.lines:
        if line.backordered:
            print(f"  waiting {line.backordered} x {line.sku} (line {line.line_id})", file=out)
        if line.awaiting_review:
            print(f"  awaiting review {line.awaiting_review} x {line.sku} (line {line.line_id})", file=out)


def _change(
    args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter, send: Callable[[OrderStub], HasOrder]
) -> int:
    try:
        response = send(_stub(args))
    except grpc.RpcError as error:
        print_error(error, sys.stderr)
        return 1
    _print_order(response.order, out)
    return 0


def cmd_release(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    request = orders_pb2.ReleaseHoldRequest(
        request_key=_request_key(args, "release"), order_id=args.order_id, approved_by=args.by, reason=args.reason
    )
    return _change(args, out, print_error, lambda stub: stub.ReleaseHold(request, timeout=args.timeout))


def cmd_resource(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    request = orders_pb2.ReallocateRequest(
        request_key=_request_key(args, "resource"), order_id=args.order_id, reason=args.reason
    )
    return _change(args, out, print_error, lambda stub: stub.Reallocate(request, timeout=args.timeout))


def cmd_cancel(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    request = orders_pb2.CancelRequest(
        request_key=_request_key(args, "cancel"), order_id=args.order_id, reason=args.reason
    )
    return _change(args, out, print_error, lambda stub: stub.Cancel(request, timeout=args.timeout))


def add_exceptions_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], client_flags: ClientFlags, print_error: ErrorPrinter
) -> None:
    parser = sub.add_parser(
        "exceptions",
        help="work the exception queue: held orders and orders waiting for stock",
        description="List the orders a rule holds or that wait for stock, and release, re-source or cancel them.",
    )
    commands = parser.add_subparsers(dest="exceptions_command", required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="the queue, oldest first")
    listing.add_argument(
        "--state",
        action="append",
        choices=sorted(STATES),
        help="only these states (repeatable; default held and backordered)",
    )
    listing.add_argument("--rule", default="", help="only orders held by this rule id")
    listing.add_argument("--limit", type=int, default=100, help="show at most this many orders (default 100)")
    client_flags(listing, 10.0)
    listing.set_defaults(run=lambda a, out: cmd_list(a, out, print_error))

    def change(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("order_id", metavar="ORDER")
        command.add_argument("--request-key", default="", help="retry a change exactly once with the key it printed")
        client_flags(command, 30.0)
        return command

    release = change("release", "approve a held order: it is allocated now, the rules' holds overridden for it")
    release.add_argument("--by", required=True, help="who approves (recorded in the order's history)")
    release.add_argument("--reason", required=True, help="why (recorded in the order's history)")
    release.set_defaults(run=lambda a, out: cmd_release(a, out, print_error))

    resource = change("resource", "source the units a backordered or partial order waits for again")
    resource.add_argument("--reason", default="", help="why (recorded in the order's history)")
    resource.set_defaults(run=lambda a, out: cmd_resource(a, out, print_error))

    cancel = change("cancel", "cancel the whole order")
    cancel.add_argument("--reason", required=True, help="why (recorded in the order's history)")
    cancel.set_defaults(run=lambda a, out: cmd_cancel(a, out, print_error))
