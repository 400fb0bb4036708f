"""Hostile rule files over real gRPC, against a server in its own process: refused at a named limit
(INVALID_ARGUMENT naming the file), quickly, and the server goes on SERVING.

Before the limits, the nesting killed the process (libpython segfault in PyYAML's C composer),
the alias bomb ran past the caller's deadline into gigabytes, and the sets durable-rules cannot
hold hung it (a full hash set) or aborted it (a list overflowed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine import limits
from server.active_rules import validate
from server.api.proto import rules_pb2, rules_pb2_grpc
from server.deadline import DeadlineExceeded, deadline_after
from tests.engine.rules.hostile import ALIAS_BOMB
from tests.integration.helpers import ServerProcess, violations

GOOD = "rules:\n  - {id: hold-all, then: {hold: {reason: freeze}}}\n"


class Served:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(server.target)
        self.rules = rules_pb2_grpc.RulesServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])

    def assert_serving(self) -> None:
        assert self.server.process.poll() is None, self.server.logs[-2000:]
        answer = self.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        checked = self.rules.ValidateRules(
            rules_pb2.ValidateRulesRequest(files=[rules_pb2.RuleFile(name="good.yaml", content=GOOD)]), timeout=10
        )
        assert checked.valid and checked.rule_count == 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database = tmp_path_factory.mktemp("rules-limits") / "oms.db"
    server = ServerProcess(["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{database}"])
    try:
        yield Served(server)
    finally:
        server.stop()


def _refused(served: Served, name: str, text: str, timeout: float = 10.0) -> dict[str, str]:
    """Both RPCs refuse the file as INVALID_ARGUMENT; the violations of ActivateRules."""
    files = [rules_pb2.RuleFile(name=name, content=text)]
    for call in (
        lambda: served.rules.ValidateRules(rules_pb2.ValidateRulesRequest(files=files), timeout=timeout),
        lambda: served.rules.ActivateRules(
            rules_pb2.ActivateRulesRequest(files=files, activated_by="mallory"), timeout=timeout
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return violations(caught.value)


def _no_activation(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.rules.GetRuleSet(rules_pb2.GetRuleSetRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_brackets_nested_50000_deep_are_refused_and_the_server_lives(served: Served) -> None:
    found = _refused(served, "deep.yaml", "rules: " + "[" * 50_000 + "]" * 50_000)
    assert found == {"files[deep.yaml]:1": f"nests deeper than the limit of {limits.MAX_RULE_DEPTH} levels"}
    served.assert_serving()


def test_an_alias_bomb_is_refused_at_once_without_growing_the_server(served: Served) -> None:
    before = served.rss_kib()
    started = time.monotonic()
    found = _refused(served, "bomb.yaml", ALIAS_BOMB, timeout=5.0)
    assert time.monotonic() - started < 5.0  # both calls, within the first one's deadline
    (field, description), *_ = found.items()
    assert field == "files[bomb.yaml]:6" and f"limit of {limits.MAX_RULE_SET_VALUES:,} values" in description
    assert served.rss_kib() - before < 100 * 1024  # unbounded, it grew by gigabytes within a minute
    served.assert_serving()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # an in list of 600 values: registering it hung the process in durable-rules (a full hash set)
        (
            "rules:\n  - {id: wide, when: {order: {channel: [" + ", ".join(f"C{i}" for i in range(600)) + "]}},"
            " then: {hold: x}}\n",
            "different conditions",
        ),
        # 100 rules whose in lists share a value: durable-rules overflowed a list and the process aborted
        (
            "rules:\n"
            + "".join(
                f"  - {{id: r{i}, when: {{order: {{channel: [WEB, B{i}]}}}}, then: {{hold: x}}}}\n" for i in range(100)
            ),
            "share a value",
        ),
    ],
)
def test_sets_durable_rules_cannot_hold_are_refused_and_the_server_lives(
    served: Served, text: str, message: str
) -> None:
    found = _refused(served, "big.yaml", text)
    (field, description), *_ = found.items()
    assert field.startswith("files[big.yaml]:") and message in description, found
    served.assert_serving()
    _no_activation(served)


@pytest.mark.parametrize(
    ("names", "field", "message"),
    [
        (["../../../../tmp/x.yaml"], "files[0].name", "must be a plain file name"),
        (["rules/default.yaml"], "files[0].name", "must be a plain file name"),
        (["a.yaml", "b.yaml", "a.yaml"], "files[2].name", "repeats files[0].name 'a.yaml'"),
    ],
)
def test_file_names_that_are_paths_or_repeated_are_refused(
    served: Served, names: list[str], field: str, message: str
) -> None:
    files = [rules_pb2.RuleFile(name=name, content=GOOD.replace("hold-all", f"r{i}")) for i, name in enumerate(names)]
    for call in (
        lambda: served.rules.ValidateRules(rules_pb2.ValidateRulesRequest(files=files), timeout=10),
        lambda: served.rules.ActivateRules(rules_pb2.ActivateRulesRequest(files=files, activated_by="ann"), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in violations(caught.value).get(field, ""), violations(caught.value)
    _no_activation(served)


def test_validation_stops_between_steps_once_the_call_deadline_has_passed() -> None:
    # The store refuses writes past the deadline (server/deadline.py); reading and compiling a
    # large set (up to about a second) stop there too instead of running on for nobody.
    files = [("good.yaml", GOOD)]
    with deadline_after(0.0), pytest.raises(DeadlineExceeded) as caught:
        validate(files, None)
    assert "before reading the rule files" in str(caught.value)
    with deadline_after(60.0):
        assert [r.id for r in validate(files, None)[0].rules] == ["hold-all"]
