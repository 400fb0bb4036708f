"""Where a served Promise's instructions go, by phase (valgrind's callgrind), against the trivial
call in the same run (issue 19's 2x / 4x targets).

Two counts, both noise-free:

- **in process**: one process under callgrind runs each phase of ``Promiser.promise`` (and of
  ``promise_products``) alone over every request of a mix, on inputs the phases before it
  prepared, with a dump between phases (``--dump-before`` on ``zlib.crc32``, called between
  them as a marker); the loop's own cost is subtracted. The production wiring:
  SQLite, the sample network, the shipped rules (benchmarks.profile_source.build).
- **served**: ``oms-sourcing serve`` under callgrind (benchmarks.served_instructions), one
  worker, one handler thread, calls one at a time: Health.Check, Promise and PromiseProducts.
  What the server adds to a call beyond the in-process whole (gRPC, interceptors, metrics) is
  the difference.

    python -m benchmarks.promise_phases [--requests 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.callgrind import phase_instructions, run_marked

PROMISE_PHASES = (
    ("request decode", "PromiseRequest bytes to message"),
    ("checks and conversion", "Promiser.checked_cart: lines, SKU aliases, ship-to, instant, pilot scope"),
    ("items and rules about time", "Promiser.cart_and_rules"),
    ("stock read", "Promiser.stock: available units of the cart's SKUs"),
    ("engine: options", "Promiser.options: cart_options_by_lookup, earliest first"),
    ("response: message", "Promiser.promise_response"),
    ("response: bytes", "SerializeToString"),
)
PRODUCTS_PHASES = (
    ("request decode", "PromiseProductsRequest bytes to message"),
    ("checks and conversion", "Promiser.checked_products: SKUs, aliases, ship-to (ZIP), instant"),
    ("stock read", "Promiser.stock: the nodes holding a unit, per SKU"),
    ("rules about time", "Promiser.product_rules"),
    ("engine: dates", "product_dates_by_lookup"),
    ("response: message", "Promiser.products_response"),
    ("response: bytes", "SerializeToString"),
)
WHOLE = "whole call in process (decode, handler, encode)"
GLUE = "glue (whole less the phases)"
KINDS = ("Promise", "PromiseProducts")


def _requests(count: int) -> dict[str, list[bytes]]:
    from benchmarks.checkout_bench import product_requests, promise_requests

    return {"Promise": promise_requests(seed=200, count=count), "PromiseProducts": product_requests(201, count)}


def _phase_calls(service: Any, kind: str, payloads: list[bytes]) -> list[tuple[str, Callable[[int], Any]]]:
    """(label, call for request i): the loop's own cost first, then each phase, then the whole."""
    from engine.promise.checkout_tables import checkout_tables, product_dates_by_lookup
    from server.api.proto import sourcing_pb2

    promiser = service._promiser
    snapshot = promiser._deps.network.get()
    tables = checkout_tables(snapshot)
    network = tables.network
    if kind == "Promise":
        requests = [sourcing_pb2.PromiseRequest.FromString(p) for p in payloads]
        asked = [promiser.checked_cart(r) for r in requests]
        carts = [promiser.cart_and_rules(snapshot, a) for a in asked]
        skus = [[line.sku for line in cart] for cart, _ in carts]
        stocks = [promiser.stock(network, s) for s in skus]
        options = [promiser.options(tables, c, s, a, r) for (c, r), s, a in zip(carts, stocks, asked, strict=True)]
        responses = [
            promiser.promise_response(o, a.translations, snapshot.version) for o, a in zip(options, asked, strict=True)
        ]
        return [
            ("loop", lambda i: None),
            ("request decode", lambda i: sourcing_pb2.PromiseRequest.FromString(payloads[i])),
            ("checks and conversion", lambda i: promiser.checked_cart(requests[i])),
            ("items and rules about time", lambda i: promiser.cart_and_rules(snapshot, asked[i])),
            ("stock read", lambda i: promiser.stock(network, skus[i])),
            ("engine: options", lambda i: promiser.options(tables, carts[i][0], stocks[i], asked[i], carts[i][1])),
            (
                "response: message",
                lambda i: promiser.promise_response(options[i], asked[i].translations, snapshot.version),
            ),
            ("response: bytes", lambda i: responses[i].SerializeToString()),
            (
                WHOLE,
                lambda i: promiser.promise(sourcing_pb2.PromiseRequest.FromString(payloads[i])).SerializeToString(),
            ),
        ]
    page_requests = [sourcing_pb2.PromiseProductsRequest.FromString(p) for p in payloads]
    pages = [promiser.checked_products(r) for r in page_requests]
    wanted = [list(dict.fromkeys(a.catalogue.values())) for a in pages]
    stocked = [promiser.stock(network, w) for w in wanted]
    rules = [promiser.product_rules(snapshot, a.point, w) for a, w in zip(pages, wanted, strict=True)]

    def dates(i: int) -> Any:
        a = pages[i]
        return product_dates_by_lookup(
            tables, wanted[i], stocked[i], a.point.lat, a.point.lon, a.ship_to, a.at, rules[i]
        )

    products = [dates(i) for i in range(len(payloads))]
    answers = [promiser.products_response(a, p, snapshot.version) for a, p in zip(pages, products, strict=True)]
    return [
        ("loop", lambda i: None),
        ("request decode", lambda i: sourcing_pb2.PromiseProductsRequest.FromString(payloads[i])),
        ("checks and conversion", lambda i: promiser.checked_products(page_requests[i])),
        ("stock read", lambda i: promiser.stock(network, wanted[i])),
        ("rules about time", lambda i: promiser.product_rules(snapshot, pages[i].point, wanted[i])),
        ("engine: dates", dates),
        ("response: message", lambda i: promiser.products_response(pages[i], products[i], snapshot.version)),
        ("response: bytes", lambda i: answers[i].SerializeToString()),
        (
            WHOLE,
            lambda i: promiser.promise_products(
                sourcing_pb2.PromiseProductsRequest.FromString(payloads[i])
            ).SerializeToString(),
        ),
    ]


def child(db_dir: str, count: int) -> int:
    """Under callgrind: build, warm up, then per kind a marker before each phase's loop."""
    from benchmarks.profile_source import build

    service, _, store = build(db_dir)
    try:
        for kind, payloads in _requests(count).items():
            # Warmed first: ZIP places, calendars, the rules' memo.
            run_marked([call for _, call in _phase_calls(service, kind, payloads)], len(payloads))
    finally:
        store.close()
    return 0


def in_process(count: int) -> dict[str, dict[str, float]]:
    """Instructions per call by phase, per kind, from one process under callgrind."""
    with tempfile.TemporaryDirectory(prefix="promise_phases_") as tmp:
        totals = phase_instructions("benchmarks.promise_phases", tmp, str(count))
    result: dict[str, dict[str, float]] = {}
    at = 1  # dump 1: start-up and warm-up; then one per phase, then the next warm-up
    for kind, phases in zip(KINDS, (PROMISE_PHASES, PRODUCTS_PHASES), strict=True):
        labels = ["loop", *(label for label, _ in phases), WHOLE]
        raw = {label: totals[at + k] / count for k, label in enumerate(labels)}
        loop = raw.pop("loop")
        net = {k: max(0.0, v - loop) for k, v in raw.items()}
        net[GLUE] = net[WHOLE] - sum(net[label] for label, _ in phases)
        result[kind] = net
        at += len(labels) + 1
    return result


def served(count: int, port: int) -> dict[str, float]:
    """Instructions per served call: Health.Check, Promise, PromiseProducts, in one server."""
    from grpc_health.v1 import health_pb2

    from benchmarks.checkout_bench import PROMISE, PROMISE_PRODUCTS
    from benchmarks.served_instructions import CHECK
    from benchmarks.served_instructions import count as served_count

    requests = _requests(count)
    cases = {
        "Health.Check": (CHECK, [health_pb2.HealthCheckRequest().SerializeToString()]),
        "Promise": (PROMISE, requests["Promise"]),
        "PromiseProducts": (PROMISE_PRODUCTS, requests["PromiseProducts"]),
    }
    return served_count(False, cases, count, port)


def render(count: int, phases: dict[str, dict[str, float]], calls: dict[str, float]) -> str:
    trivial = calls["Health.Check"]
    out = [
        f"Instructions per call (valgrind's callgrind, {count} requests a case: 1-3-line carts to real cities"
        " for Promise, 20 SKUs to a ZIP code for PromiseProducts, `benchmarks.checkout_bench`'s generators),"
        " the sample network, rules/default.yaml, SQLite. `python -m benchmarks.promise_phases`.",
        "",
        "Served (one server process, one handler thread, calls one at a time):",
        "",
        "| call | M instructions per call | x the trivial call | issue 19's target |",
        "|---|---:|---:|---|",
        f"| Health.Check (trivial) | {trivial / 1e6:.3f} | 1.00x | |",
    ]
    for kind, target in (("Promise", 2.0), ("PromiseProducts", 4.0)):
        ratio = calls[kind] / trivial
        verdict = "met" if ratio <= target else "MISSED"
        out.append(f"| {kind} | {calls[kind] / 1e6:.3f} | {ratio:.2f}x | <= {target:g}x: {verdict} |")
    for kind, listed in zip(KINDS, (PROMISE_PHASES, PRODUCTS_PHASES), strict=True):
        net = phases[kind]
        rows = [(label, what) for label, what in listed]
        rows += [(GLUE, "the handler's own lines"), (WHOLE, "")]
        server_adds = calls[kind] - net[WHOLE]
        out += [
            "",
            f"{kind} by phase (in process, per call; the served call's share of each):",
            "",
            "| phase | what | M instructions | share of the served call |",
            "|---|---|---:|---:|",
        ]
        for label, what in rows:
            out.append(f"| {label} | {what} | {net[label] / 1e6:.3f} | {net[label] / calls[kind]:.0%} |")
        out.append(
            f"| server: gRPC, interceptors, metrics | served less in process | {server_adds / 1e6:.3f} "
            f"| {server_adds / calls[kind]:.0%} |"
        )
        out.append(f"| **served call** | | {calls[kind] / 1e6:.3f} | 100% |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.promise_phases", description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per case (default: %(default)s)")
    parser.add_argument("--port", type=int, default=50074)
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))
    phases = in_process(args.requests)
    calls = served(args.requests, args.port)
    text = render(args.requests, phases, calls)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
