"""Fuzzing a real server: protobuf requests to every RPC, network files, rule files.

`make test` runs each fuzzer for a few hundred cases (seconds) on a fixed seed; `make fuzz` runs
them for FUZZ_SECONDS each on a fresh seed (tests/fuzz/harness.py, Budget). Every answer must be
a status other than INTERNAL or UNKNOWN, in bounded time; after every batch of cases the server
must be alive, SERVING, conserving stock, free of ERROR log lines and under its memory bound. A
failure names the seed and the case: ``OMS_FUZZ_SEED=<seed> OMS_FUZZ_ONLY=<case>`` makes that
one case again (alone, so without the state the cases before it left).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from server.api.network_load import plan_requests
from server.api.proto import common_pb2, network_pb2_grpc, rules_pb2, rules_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from server.network_file import NetworkFileError, read_network_file
from tests.fuzz.harness import BAD_CODES, MAX_MESSAGE_BYTES, Budget, FuzzServer, Tally, save_case
from tests.fuzz.network_files import NetworkFileFuzzer, write
from tests.fuzz.rpc_requests import RequestFuzzer, Vocabulary
from tests.fuzz.rule_files import RuleFileFuzzer
from tests.fuzz.wire import served_rpcs

CHECK_EVERY = 25  # cases between two checks of every invariant
INCLUDE = frozenset(filter(None, os.environ.get("OMS_FUZZ_INCLUDE", "").split(",")))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServer]:
    fuzzed = FuzzServer(tmp_path_factory.mktemp("fuzz-server"))
    yield fuzzed
    fuzzed.close()


def judge(server: FuzzServer, tally: Tally, index: int, what: str, code: grpc.StatusCode, details: str) -> None:
    """A bad answer fails at once; every CHECK_EVERY cases, every invariant is checked."""
    where = f"seed {tally.seed} case {index} ({what}; again: OMS_FUZZ_SEED={tally.seed} OMS_FUZZ_ONLY={index})"
    assert code not in BAD_CODES, f"{code.name} {details[:300]!r} for {where}\n{tally.summary()}"
    assert code != grpc.StatusCode.DEADLINE_EXCEEDED, f"no answer in time for {where}"
    if index % CHECK_EVERY == CHECK_EVERY - 1:
        server.check(where)


def test_protobuf_requests_to_every_rpc(server: FuzzServer, tmp_path: Path) -> None:
    budget = Budget.from_env(cases=600, seconds=10)
    fuzzer = RequestFuzzer(served_rpcs(reflection=True), Vocabulary.from_sample_network(), MAX_MESSAGE_BYTES)
    tally = Tally("protobuf requests", budget.seed)
    for index in budget.indexes():
        case = fuzzer.case(budget.seed, index)
        started = time.monotonic()
        code, details = server.call(case.rpc, case.payload)
        what = f"case {index}, {case.kind} to {case.rpc.path}, {len(case.payload)} bytes"
        tally.count(case.kind, code.name, time.monotonic() - started, what)
        if code in BAD_CODES:
            what += f", saved in {save_case(tmp_path, f'case-{index}.bin', case.payload)}"
        judge(server, tally, index, what, code, details)
    server.check("the last case")
    tally.notes.append(f"peak server RSS {server.peak_rss_mb:.0f} MiB")
    print(tally.summary())
    assert tally.cases > 0


def load(server: FuzzServer, path: Path) -> tuple[str, list[tuple[grpc.StatusCode, str]]]:
    """What `oms-sourcing load-network` does with the file: read it, then send it."""
    try:
        network = read_network_file(path)
    except NetworkFileError:
        return "refused", []
    stub = network_pb2_grpc.NetworkServiceStub(server.channel)
    answers: list[tuple[grpc.StatusCode, str]] = []
    for name, request in plan_requests(network).in_order():
        try:
            getattr(stub, name)(request, timeout=30)
            answers.append((grpc.StatusCode.OK, ""))
        except grpc.RpcError as error:
            answers.append((error.code(), error.details() or ""))
    return "loaded", [*answers, *promised(server, network.items[0].sku if network.items else "FZ-0")]


def promised(server: FuzzServer, sku: str) -> list[tuple[grpc.StatusCode, str]]:
    """Checkout's questions on the network just loaded: its calendars, cut-offs and zone charts are
    read only when a date is promised, so a hostile one shows here, not at the load."""
    stub = sourcing_pb2_grpc.SourcingServiceStub(server.channel)
    far = common_pb2.PostalAddress(country_code="US", postal_code="98101")
    calls = (
        (
            stub.Promise,
            sourcing_pb2.PromiseRequest(
                lines=[sourcing_pb2.CartLine(line_id="1", sku=sku, qty=1)], ship_to_address=far
            ),
        ),
        (stub.PromiseProducts, sourcing_pb2.PromiseProductsRequest(skus=[sku], ship_to_address=far)),
    )
    answers: list[tuple[grpc.StatusCode, str]] = []
    for method, request in calls:
        try:
            method(request, timeout=30)
            answers.append((grpc.StatusCode.OK, ""))
        except grpc.RpcError as error:
            answers.append((error.code(), error.details() or ""))
    return answers


def test_network_files(server: FuzzServer, tmp_path: Path) -> None:
    budget = Budget.from_env(cases=50, seconds=8)
    fuzzer = NetworkFileFuzzer(INCLUDE)
    tally = Tally("network files", budget.seed)
    for index in budget.indexes():
        kind, data = fuzzer.case(budget.seed, index)
        path = write(tmp_path, index, data)
        what = f"case {index}, {kind}, {len(data)} bytes, in {path}"
        started = time.monotonic()
        try:
            outcome, answers = load(server, path)
        except Exception as error:  # the loader may refuse a file only with NetworkFileError
            again = f"again: OMS_FUZZ_SEED={budget.seed} OMS_FUZZ_ONLY={index}"
            raise AssertionError(f"{type(error).__name__}: {str(error)[:300]} for {what}; {again}") from error
        tally.count(kind, outcome, time.monotonic() - started, what)
        for code, details in answers:
            tally.codes[code.name] += 1
            judge(server, tally, index, what, code, details)
        if not answers:
            judge(server, tally, index, what, grpc.StatusCode.OK, "")
        path.unlink()  # huge ones add up
    server.check("the last case")
    print(tally.summary())
    assert tally.cases > 0


def test_rule_files(server: FuzzServer, tmp_path: Path) -> None:
    budget = Budget.from_env(cases=60, seconds=8)
    fuzzer = RuleFileFuzzer(INCLUDE)
    stub = rules_pb2_grpc.RulesServiceStub(server.channel)
    tally = Tally("rule files", budget.seed)
    for index in budget.indexes():
        kind, text = fuzzer.case(budget.seed, index)
        files = [rules_pb2.RuleFile(name="fuzz.yaml", content=text)]
        activate = index % 10 == 9  # now and then for real: the store's side too
        what = f"case {index}, {kind}, {'Activate' if activate else 'Validate'}Rules, {len(text)} characters"
        started = time.monotonic()
        try:
            if activate:
                stub.ActivateRules(rules_pb2.ActivateRulesRequest(files=files, activated_by="fuzz"), timeout=30)
            else:
                stub.ValidateRules(rules_pb2.ValidateRulesRequest(files=files), timeout=30)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as error:
            code, details = error.code(), error.details() or ""
        tally.count(kind, code.name, time.monotonic() - started, what)
        if code in BAD_CODES:
            what += f", saved in {save_case(tmp_path, f'rules-{index}.yaml', text.encode())}"
        judge(server, tally, index, what, code, details)
    server.check("the last case")
    print(tally.summary())
    assert tally.cases > 0
