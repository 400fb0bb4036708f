"""A real server to fuzz, what must stay true of it, and how long to go on.

The server is ``oms-sourcing serve`` in a subprocess (the sample network, the shipped rules,
SQLite), reached over real gRPC. After every batch of cases, and after any case whose answer is
suspect, :meth:`FuzzServer.check` asserts: the process alive, health SERVING, CheckConservation
ok, no ERROR line (an INTERNAL logs one) in its log, and its resident memory under a bound.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.api.proto import orders_pb2, orders_pb2_grpc
from tests.fuzz.wire import Rpc
from tests.integration.helpers import REPO, ServerProcess

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # the server's default max_message_bytes
# The server settles near 150 MiB with the sample network; decoding a request of 4 MiB of tiny
# repeated elements takes a few hundred more for a moment. Far beyond that is a leak or a bomb.
DEFAULT_MAX_RSS_MB = 1024
# A server-streaming call (WatchEvents, health Watch) that was accepted waits for events: it is
# read this long, then its deadline is the expected end.
STREAM_SECONDS = 0.2
# Any unary call answers within this, decisions included (their time limit is far shorter).
CALL_SECONDS = 30.0
BAD_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


@dataclass(frozen=True)
class Budget:
    """How long one fuzzer goes on: ``cases`` cases or ``seconds`` seconds, whichever ends first.

    `make test` uses each test's defaults (a few seconds); `make fuzz` sets OMS_FUZZ_SECONDS and
    OMS_FUZZ_CASES. OMS_FUZZ_SEED picks the cases (``random``: a fresh seed, printed);
    OMS_FUZZ_ONLY=<case> makes that one case alone."""

    cases: int
    seconds: float
    seed: int
    only: int | None = None

    @classmethod
    def from_env(cls, cases: int, seconds: float) -> Budget:
        seed_text = os.environ.get("OMS_FUZZ_SEED", "") or "20261207"
        seed = random.SystemRandom().randrange(2**32) if seed_text == "random" else int(seed_text)
        cases_text = os.environ.get("OMS_FUZZ_CASES", "")
        seconds_text = os.environ.get("OMS_FUZZ_SECONDS", "")
        if seconds_text and not cases_text:
            cases = 10**9  # only the time given: the time decides
        only = os.environ.get("OMS_FUZZ_ONLY", "")
        return cls(
            cases=int(cases_text) if cases_text else cases,
            seconds=float(seconds_text) if seconds_text else seconds,
            seed=seed,
            only=int(only) if only else None,
        )

    def indexes(self) -> Iterator[int]:
        if self.only is not None:
            yield self.only
            return
        deadline = time.monotonic() + self.seconds
        for index in range(self.cases):
            if time.monotonic() > deadline:
                return
            yield index


@dataclass
class Tally:
    """What a fuzzer did, for the line it prints at the end."""

    name: str
    seed: int
    started: float = field(default_factory=time.monotonic)
    cases: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def count(self, kind: str, code: str, seconds: float, what: str) -> None:
        self.cases += 1
        self.kinds[kind] += 1
        self.codes[code] += 1
        self.slowest = max(self.slowest, (seconds, what))

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        codes = ", ".join(f"{code} {n}" for code, n in self.codes.most_common())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items()))
        return (
            f"fuzz {self.name}: seed {self.seed}, {self.cases} cases in {elapsed:.1f} s "
            f"({self.cases / max(elapsed, 1e-9):.1f}/s); kinds: {kinds}; answers: {codes}; "
            f"slowest {self.slowest[0]:.2f} s: {self.slowest[1]}" + "".join(f"; {note}" for note in self.notes)
        )


class FuzzServer:
    """``oms-sourcing serve`` to fuzz, and its invariants."""

    def __init__(self, directory: Path, max_rss_mb: int = DEFAULT_MAX_RSS_MB) -> None:
        self.max_rss_mb = int(os.environ.get("OMS_FUZZ_MAX_RSS_MB", max_rss_mb))
        self.process = ServerProcess(
            [
                "--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{directory / 'fuzz.db'}",
                "--load-sample-if-empty", "--rules-path", str(REPO / "rules" / "default.yaml"),
                "--solver-time-limit-ms", "300", "--reflection", "--grace-seconds", "1",
            ],
            timeout=60,
        )  # fmt: skip
        self.channel = grpc.insecure_channel(self.process.target, options=[("grpc.max_receive_message_length", -1)])
        self.peak_rss_mb = self.rss_mb()

    @property
    def pid(self) -> int:
        return self.process.process.pid

    def call(self, rpc: Rpc, payload: bytes) -> tuple[grpc.StatusCode, str]:
        """``payload`` sent as ``rpc``'s request, byte for byte: (code, details)."""
        try:
            if rpc.client_streaming:
                list(self.channel.stream_stream(rpc.path)(iter([payload]), timeout=CALL_SECONDS))
            elif rpc.server_streaming:
                for _ in self.channel.unary_stream(rpc.path)(payload, timeout=STREAM_SECONDS):
                    pass
            else:
                self.channel.unary_unary(rpc.path)(payload, timeout=CALL_SECONDS)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED and rpc.server_streaming:
                return grpc.StatusCode.OK, "stream open until its deadline"
            return code, error.details() or ""
        return grpc.StatusCode.OK, ""

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert match, status
        return int(match.group(1)) / 1024

    def check(self, context: str) -> None:
        """Every invariant, or an AssertionError naming the one broken and ``context``."""
        where = f" (after {context})"
        assert self.process.process.poll() is None, f"server exited {self.process.process.returncode}{where}"
        health = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING, f"health {health.status}{where}"
        orders = orders_pb2_grpc.OrderServiceStub(self.channel)
        conservation = orders.CheckConservation(orders_pb2.CheckConservationRequest(), timeout=60)
        assert conservation.ok, f"conservation broken: {list(conservation.problems)[:5]}{where}"
        rss = self.rss_mb()
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        assert rss < self.max_rss_mb, f"server RSS {rss:.0f} MiB over {self.max_rss_mb} MiB{where}"
        errors = [line for line in self.process.logs.splitlines() if "level=error" in line or "Traceback" in line]
        assert not errors, f"error lines in the server log{where}:\n" + "\n".join(errors[:5])

    def close(self) -> None:
        self.channel.close()
        code = self.process.stop()
        assert code == 0, f"server exit code {code}:\n{self.process.logs[-3000:]}"


def save_case(directory: Path, name: str, payload: bytes) -> Path:
    """The bytes of a failing case, to send again by hand."""
    path = directory / name
    path.write_bytes(payload)
    return path
