"""The load generator of the service benchmarks: ``h2gen`` (``h2gen.c`` here, built by ``make``).

A Python gRPC client costs the machine 300-600 µs of CPU per call (closed loop the lower end,
open loop the upper); on the two cores the server also runs on, that was a quarter of the
machine at the service's peak, so "Source at 80% of peak" measured the generator as much as the
server. ``h2gen`` sends the same pre-serialized requests over HTTP/2 from C for 35-150 µs per call.
It is handed connections already open, spread over the server's worker processes the way an L7
balancer would (``benchmarks.connections.balanced_sockets``).
"""

from __future__ import annotations

import array
import json
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.connections import balanced_sockets

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "build" / "h2gen"
SOURCE = Path(__file__).with_name("h2gen.c")
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
DEFAULT_TIMEOUT_S = 10.0
_EMPTY_MESSAGE = b""  # HealthCheckRequest() serializes to nothing


@dataclass(frozen=True)
class GeneratedLoad:
    """What one run of the generator saw."""

    sent: int
    latencies_us: Sequence[int]  # one per call answered OK, from its scheduled send
    # Every other outcome: gRPC status codes by name, "lost" (the connection failed) and
    # "unanswered" (no answer within the timeout after the last send).
    errors: Counter[str]
    max_send_lag_us: int  # how far behind its schedule the generator ever sent
    client_cpu_s: float  # the generator's own CPU (user + system)
    exhausted: bool = False  # ``each_once`` and every message was sent before the time was up

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def framed(messages: Sequence[bytes]) -> bytes:
    """gRPC's length-prefixed framing (uncompressed), the form ``h2gen`` reads and sends."""
    return b"".join(b"\x00" + len(m).to_bytes(4, "big") + m for m in messages)


def generate(
    target: str,
    method: str,
    messages: Sequence[bytes],
    seconds: float,
    *,
    connections: int,
    per_connection: int = 0,
    rate: float = 0.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    each_once: bool = False,
) -> GeneratedLoad:
    """Call ``method`` (``/package.Service/Method``) on ``target`` for ``seconds``.

    Closed loop with ``per_connection`` calls in flight on each connection, or open loop at
    ``rate`` calls a second spread over the connections. ``messages`` are serialized requests,
    sent in turn (an empty list sends empty requests, as the health check takes), over again
    from the first unless ``each_once``: then the run ends early if they are used up.
    """
    if (per_connection > 0) == (rate > 0):
        raise ValueError("give exactly one of per_connection (closed loop) and rate (open loop)")
    if not BINARY.exists() or BINARY.stat().st_mtime < SOURCE.stat().st_mtime:
        raise FileNotFoundError(f"{BINARY} is missing or older than {SOURCE.name}: run `make build/h2gen`")
    sockets = balanced_sockets(target, connections)
    with tempfile.TemporaryDirectory(prefix="h2gen-") as tmp:
        requests, latencies = Path(tmp) / "requests", Path(tmp) / "latencies"
        requests.write_bytes(framed(messages or [_EMPTY_MESSAGE]))
        args = [
            str(BINARY),
            "--path", method,
            "--authority", target,
            "--messages", str(requests),
            "--seconds", str(seconds),
            "--timeout-ms", str(round(timeout_s * 1000)),
            "--latencies", str(latencies),
            *(["--rate", str(rate)] if rate > 0 else ["--per-connection", str(per_connection)]),
            *(["--once"] if each_once else []),
        ]  # fmt: skip
        for sock in sockets:
            args += ["--fd", str(sock.fileno())]
        before = os.times()
        try:
            finished = subprocess.run(
                args, pass_fds=[s.fileno() for s in sockets], capture_output=True, text=True, check=False
            )
        finally:
            for sock in sockets:
                sock.close()
        after = os.times()
        if finished.returncode != 0:
            raise RuntimeError(f"h2gen failed ({finished.returncode}): {finished.stderr.strip()}")
        summary = json.loads(finished.stdout)
        answered = array.array("I")
        answered.frombytes(latencies.read_bytes())
    errors: Counter[str] = Counter({_code_name(int(code)): n for code, n in summary["statuses"].items()})
    for outcome in ("lost", "unanswered"):
        if summary[outcome]:
            errors[outcome] = summary[outcome]
    return GeneratedLoad(
        sent=summary["sent"],
        latencies_us=answered.tolist(),
        errors=errors,
        max_send_lag_us=summary["max_send_lag_us"],
        client_cpu_s=(after.children_user - before.children_user) + (after.children_system - before.children_system),
        exhausted=summary["exhausted"],
    )


def _code_name(code: int) -> str:
    import grpc

    return next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))
