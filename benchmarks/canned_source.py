"""`oms-sourcing serve` with Source answering from a cache: gRPC's own cost of a Source call.

The real server (interceptors, limiter, decoding registrar, metrics, one worker process), except
that ``SourcingService.Source`` returns the response it computed the first time it saw the same
request bytes: the transport, the request's decode and the response's encode, and the handler
threading stay as served, the decision is gone. ``benchmarks.service_bench --canned-config 1x1``
runs the issue's target cases against it, after a warm-up pass that fills the cache, beside its
own trivial call: what is left between the trivial call and a canned Source is gRPC's and the
message sizes', which no cut in the decision can reach.

    python -m benchmarks.canned_source <the arguments of oms-sourcing serve; --workers 1>
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    from server.api.proto import sourcing_pb2
    from server.api.services.sourcing import SourcingService
    from server.cli.main import main as cli

    real = SourcingService.Source
    answers: dict[bytes, sourcing_pb2.SourceResponse] = {}

    def canned(self: SourcingService, request: sourcing_pb2.SourceRequest, context: Any) -> Any:
        key = request.SerializeToString()
        found = answers.get(key)
        if found is None:
            found = answers[key] = real(self, request, context)
        return found

    # Before the server registers its servicers, which bind the method then (one worker: in process).
    SourcingService.Source = canned  # type: ignore[method-assign]
    return cli(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
