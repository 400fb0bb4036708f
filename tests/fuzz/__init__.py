"""Fuzzing and property tests: how hard they search.

The engine's property tests (tests/engine/) take ``examples(budget)``: `make test` runs each with
its own budget, `make fuzz` multiplies every budget by ``OMS_FUZZ_FACTOR`` (20 there).

The server fuzzers (test_server_fuzz.py) send broken protobuf requests to every RPC (rpc_requests.py,
over the wire format of wire.py), hostile network files (network_files.py) and hostile rule files
(rule_files.py) to a real server subprocess, and check it after every batch (harness.py). Their
budget comes from OMS_FUZZ_SECONDS / OMS_FUZZ_CASES / OMS_FUZZ_SEED (harness.Budget).
"""

from __future__ import annotations

import os

FACTOR = max(1, int(os.environ.get("OMS_FUZZ_FACTOR", "1")))


def examples(budget: int) -> int:
    """``budget`` examples in `make test`, ``budget`` times the factor under `make fuzz`."""
    return budget * FACTOR
