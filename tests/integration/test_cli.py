"""The command line end to end: a real `oms-sourcing serve` subprocess and the client commands."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.api.proto import network_pb2, network_pb2_grpc
from server.cli.main import main
from server.runtime.affinity import cpu_for
from tests.integration.helpers import REPO, ServerProcess, count, free_port, node, run_cli

SAMPLE = REPO / "data" / "sample-network.json"
MINIMAL = REPO / "tests" / "data" / "network" / "minimal.json"
WATCH_COMMAND = [sys.executable, "-m", "server.cli.main", "call", "WatchEvents", "--json", "{}", "--timeout", "3600"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    database = tmp_path_factory.mktemp("cli") / "cli.db"
    server = ServerProcess(["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{database}"])
    yield server
    assert server.stop() == 0, server.logs


def test_health_command(served: ServerProcess) -> None:
    result = run_cli("health", "--target", served.target)
    assert result.returncode == 0 and result.stdout.strip() == "SERVING"


def test_health_of_nothing_listening_fails() -> None:
    result = run_cli("health", "--target", f"127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 1 and "UNAVAILABLE" in result.stderr


def test_load_network_then_call(served: ServerProcess) -> None:
    loaded = run_cli("load-network", str(MINIMAL), "--target", served.target, "--chunk-size", "1")
    assert loaded.returncode == 0, loaded.stderr
    assert "2 nodes, 2 items, 3 inventory counts (3 applied, 0 stale ignored) in 7 requests" in loaded.stdout
    again = run_cli("load-network", str(MINIMAL), "--target", served.target)
    assert "(3 applied, 0 stale ignored)" in again.stdout  # same as_of: re-applied, not older

    listed = run_cli("call", "ListNodes", "--json", '{"types": ["NODE_TYPE_STORE"]}', "--target", served.target)
    assert listed.returncode == 0, listed.stderr
    assert [n["id"] for n in json.loads(listed.stdout)["nodes"]] == ["ST-001"]

    stock = run_cli(
        "call", "oms.sourcing.v1.NetworkService/GetAvailability", "--json", "-", "--target", served.target,
        input='{"skus": ["HOM-00001"], "node_ids": ["DC-01"]}',
    )  # fmt: skip
    assert json.loads(stock.stdout)["positions"][0]["available"] == "120"


def test_load_network_refuses_a_file_the_api_would_refuse_before_writing_anything(
    served: ServerProcess, tmp_path: Path
) -> None:
    """An item attribute UpsertItems refuses (a NUL) used to pass the file check: the nodes were
    written, then the items failed. The file is now checked by the API's own definition first."""
    doc = json.loads(MINIMAL.read_text())
    for n in doc["nodes"]:
        n["id"] = "HALF-" + n["id"]
    for row in doc["inventory"]:
        row["node_id"] = "HALF-" + row["node_id"]
    doc["items"][0]["attributes"] = {"care": "hand wash\u0000"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    loaded = run_cli("load-network", str(bad), "--target", served.target)
    assert loaded.returncode == 2 and "items[0].attributes['care']" in loaded.stderr, loaded.stderr
    listed = run_cli("call", "ListNodes", "--json", "{}", "--target", served.target)
    assert "HALF-" not in listed.stdout


def test_call_prints_a_response_s_empty_lists(served: ServerProcess) -> None:
    """A list that matched nothing is printed as [] (the JSON mapping alone prints {}, which reads
    like no answer): what ListOrders on a fresh server answers."""
    listed = run_cli("call", "ListOrders", "--json", '{"states": ["ORDER_STATE_HELD"]}', "--target", served.target)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"orders": []}


def test_call_prints_status_and_field_violations(served: ServerProcess) -> None:
    result = run_cli(
        "call", "NetworkService.UpdateInventory", "--target", served.target,
        "--json", '{"updates": [{"node_id": "DC-01", "sku": "", "count": {"count": -3}}]}',
    )  # fmt: skip
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "updates[0].sku: is required" in result.stderr
    assert "updates[0].count.count:" in result.stderr


def test_call_usage_errors(served: ServerProcess) -> None:
    unknown = run_cli("call", "NoSuchMethod", "--target", served.target)
    assert unknown.returncode == 2 and "NetworkService.ListNodes" in unknown.stderr
    bad_json = run_cli("call", "ListNodes", "--json", '{"page_size": "many"}', "--target", served.target)
    assert bad_json.returncode == 2 and "ListNodesRequest" in bad_json.stderr
    listing = run_cli("call", "--list")
    assert "NetworkService.UpdateInventory" in listing.stdout


def _load_and_allocate_one(served: ServerProcess, order_id: str) -> None:
    """The minimal network, and one order of one unit allocated through `call Allocate`."""
    run_cli("load-network", str(MINIMAL), "--target", served.target)
    line = '{"line_id": "1", "sku": "HOM-00001", "qty": 1}'
    order = f'{{"order_id": "{order_id}", "ship_to": {{"lat": 40, "lon": -90}}, "lines": [{line}]}}'
    request = f'{{"request_key": "{order_id}", "order": {order}}}'
    allocated = run_cli("call", "Allocate", "--json", request, "--target", served.target)
    assert allocated.returncode == 0, allocated.stderr


def test_call_streams_watch_events_one_json_line_each(served: ServerProcess) -> None:
    _load_and_allocate_one(served, "W-1")
    # The stream follows until --timeout, which ends it normally.
    watched = run_cli("call", "WatchEvents", "--json", "{}", "--timeout", "1", "--target", served.target)
    assert watched.returncode == 0, watched.stderr
    events = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [(e["order_id"], e["event"]["type"]) for e in events if e["order_id"]] == [("W-1", "ALLOCATED")]
    # The payload is an object (not a string of JSON), its whole numbers printed whole.
    payload = events[-1]["event"]["payload"]
    assert payload["hold_ms"] == 900000 and '"hold_ms": 900000,' in watched.stdout
    assert [line[-1] for line in payload["allocations"]] == [1] and list(payload) == sorted(payload)


def test_ctrl_c_ends_a_stream_cleanly_many_times_over(tmp_path: Path) -> None:
    """Ctrl-C is how a person ends `call WatchEvents`: exit 0 at once, nothing on stderr. Sent at
    different moments of the stream, since an interrupt landing inside gRPC's own code could hang
    the client (grpc/grpc#19973); the client waits for it on its main thread instead."""
    served = ServerProcess(["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{tmp_path / 'c.db'}"])
    _load_and_allocate_one(served, "C-1")
    for attempt in range(6):
        watching = subprocess.Popen(
            [*WATCH_COMMAND, "--target", served.target],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert watching.stdout is not None
        first = watching.stdout.readline()  # the stream is open and printing
        assert first.startswith("{"), first
        time.sleep(0.05 * attempt)
        watching.send_signal(signal.SIGINT)
        _, err = watching.communicate(timeout=30)
        assert (watching.returncode, err) == (0, ""), (attempt, watching.returncode, err)
    assert served.stop() == 0, served.logs


def test_load_network_refuses_bad_promise_data_whole(served: ServerProcess, tmp_path: Path) -> None:
    """A file whose nodes and stock are fine but whose calendar data is not loads nothing at all."""
    doc = json.loads((REPO / "tests" / "data" / "network" / "promise.json").read_text())
    for n in doc["nodes"]:
        n["id"] = "TZ-" + n["id"]
    for row in doc["inventory"]:
        row["node_id"] = "TZ-" + row["node_id"]
    doc["nodes"][1]["time_zone"] = "America/Chicgo"
    doc["nodes"][0]["cutoffs"][1]["time"] = "24:00"
    bad = tmp_path / "bad-promise.json"
    bad.write_text(json.dumps(doc))

    loaded = run_cli("load-network", str(bad), "--target", served.target)
    assert loaded.returncode == 2, loaded.stderr
    assert "nodes[0].cutoffs[1].time: must be between 00:00 and 23:59" in loaded.stderr
    assert "nodes[1].time_zone: must be an IANA time zone" in loaded.stderr
    listed = run_cli("call", "ListNodes", "--json", "{}", "--target", served.target)
    assert listed.returncode == 0 and "TZ-" not in listed.stdout


def test_load_network_reports_a_bad_file(served: ServerProcess) -> None:
    result = run_cli("load-network", str(REPO / "tests/data/network/bad-lat.json"), "--target", served.target)
    assert result.returncode == 2 and "lat" in result.stderr


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """In process (argparse prints and exits the same way); one subprocess proves the entry point."""
    commands = ("serve", "migrate", "call", "load-network", "health", "exceptions", "exceptions list", "new-token")
    for command in (*commands, "rules", "simulate", "report"):
        with pytest.raises(SystemExit) as exit_:
            main([*command.split(), "--help"])
        assert exit_.value.code == 0 and "usage: oms-sourcing" in capsys.readouterr().out, command
    serve_help = run_cli("serve", "--help").stdout
    assert "--database" in serve_help and "--load-sample-if-empty" in serve_help and "--workers" in serve_help


def test_migrate_command(tmp_path: Path) -> None:
    result = run_cli("migrate", "--database", f"sqlite:///{tmp_path / 'm.db'}")
    assert result.returncode == 0 and "schema version" in result.stdout


def test_serve_loads_the_sample_into_an_empty_store(tmp_path: Path) -> None:
    server = ServerProcess(
        ["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{tmp_path / 's.db'}", "--load-sample-if-empty"]
    )
    try:
        with grpc.insecure_channel(server.target) as channel:
            page = network_pb2_grpc.NetworkServiceStub(channel).ListNodes(network_pb2.ListNodesRequest(page_size=1000))
        assert len(page.nodes) == len(json.loads(SAMPLE.read_text())["nodes"])
    finally:
        assert server.stop() == 0, server.logs


def test_sigterm_lets_the_in_flight_call_finish_then_exits_0(tmp_path: Path) -> None:
    database = tmp_path / "g.db"
    server = ServerProcess(
        ["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{database}", "--grace-seconds", "8"]
    )
    channel = grpc.insecure_channel(server.target)
    try:
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        stub.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-01")]))
        # A genuinely slow call: another connection holds SQLite's write lock, so the server's
        # write waits for it (within the store's busy timeout).
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        in_flight = stub.UpdateInventory.future(
            network_pb2.UpdateInventoryRequest(updates=[count("DC-01", "SKU-1", 7)]), timeout=20
        )
        watched = _watch_health(channel)
        time.sleep(0.5)
        assert not in_flight.done()
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert watched.wait(5), "health never turned NOT_SERVING"
        assert _new_calls_refused(server.target)
        time.sleep(0.5)
        blocker.execute("ROLLBACK")
        blocker.close()
        reply = in_flight.result(timeout=10)
        assert reply.results[0].outcome == network_pb2.UPDATE_OUTCOME_APPLIED
        assert server.wait(10) == 0
        assert time.monotonic() - started < 8
        assert "INTERNAL" not in server.logs
    finally:
        channel.close()
        server.kill()


def _new_calls_refused(target: str) -> bool:
    """True once a call on a fresh connection is refused (health flips a moment before the listener closes)."""
    for _ in range(40):
        with grpc.insecure_channel(target) as fresh:
            try:
                network_pb2_grpc.NetworkServiceStub(fresh).ListNodes(network_pb2.ListNodesRequest(), timeout=2)
            except grpc.RpcError as error:
                return error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        time.sleep(0.05)
    return False


def _watch_health(channel: grpc.Channel) -> threading.Event:
    """Set once a health Watch reports NOT_SERVING (the watch is then cancelled)."""
    seen = threading.Event()
    call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))

    def run() -> None:
        try:
            for reply in call:
                if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    seen.set()
                    call.cancel()
                    return
        except grpc.RpcError:
            pass

    threading.Thread(target=run, daemon=True).start()
    return seen


def test_two_workers_share_the_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(
        [
            "--workers", "2", "--port", "0", "--metrics-port", str(metrics_port), "--log-level", "DEBUG",
            "--database", f"sqlite:///{tmp_path / 'w.db'}", "--load-sample-if-empty",
        ],
        timeout=60,
    )  # fmt: skip
    try:
        pids = {int(p) for p in re.search(r"pids ([\d,]+)", "".join(server.stdout)).group(1).split(",")}  # type: ignore[union-attr]
        assert len(pids) == 2
        calls = 24
        for _ in range(calls):
            # A fresh connection each time (no shared subchannel), so the kernel picks a worker anew.
            with grpc.insecure_channel(server.target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                network_pb2_grpc.NetworkServiceStub(channel).ListNodes(network_pb2.ListNodesRequest(page_size=1))
        deadline = time.monotonic() + 5
        answered: set[int] = set()
        while time.monotonic() < deadline and answered != pids:
            answered = {int(p) for p in re.findall(r"pid=(\d+) msg=rpc method=\S+ListNodes", server.logs)}
            time.sleep(0.1)
        assert answered == pids
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        handled = re.search(r'grpc_server_handled_total\{grpc_code="OK",grpc_method="ListNodes"[^}]*\} (\S+)', text)
        assert handled and float(handled.group(1)) == calls  # one scrape sums both workers
    finally:
        code = server.stop()
    assert code == 0, server.logs


def _allowed_cpus(pid: int) -> dict[int, str]:
    """Each thread of ``pid``: the CPUs it may run on, as /proc lists them ("0", "0-1")."""
    allowed = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = (task / "status").read_text()
        allowed[int(task.name)] = re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1)  # type: ignore[union-attr]
    return allowed


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_pin_cpus_puts_every_thread_of_each_worker_on_a_cpu_of_its_own(tmp_path: Path) -> None:
    usable = sorted(os.sched_getaffinity(0))
    server = ServerProcess(
        [
            "--workers", "2", "--pin-cpus", "--port", "0", "--metrics-port", "0",
            "--database", f"sqlite:///{tmp_path / 'p.db'}", "--load-sample-if-empty",
        ],
        timeout=60,
    )  # fmt: skip
    try:
        pids = [int(p) for p in re.search(r"pids ([\d,]+)", "".join(server.stdout)).group(1).split(",")]  # type: ignore[union-attr]
        with grpc.insecure_channel(server.target) as channel:  # serving as before
            network_pb2_grpc.NetworkServiceStub(channel).ListNodes(network_pb2.ListNodesRequest(page_size=1))
        per_worker = [set(_allowed_cpus(pid).values()) for pid in pids]
        # gRPC's, the store's and the handler threads alike: one CPU per worker, worker i on the i-th.
        assert per_worker == [{str(usable[i % len(usable)])} for i in range(2)]
        assert set(_allowed_cpus(server.process.pid).values()) == {_listed(usable)}  # the supervisor stays free
    finally:
        code = server.stop()
    assert code == 0, server.logs


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_pin_cpus_puts_a_single_server_process_on_one_cpu(tmp_path: Path) -> None:
    server = ServerProcess(
        ["--pin-cpus", "--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{tmp_path / 's.db'}"],
        timeout=60,
    )
    try:
        with grpc.insecure_channel(server.target) as channel:  # the handler pool's threads exist once called
            network_pb2_grpc.NetworkServiceStub(channel).ListNodes(network_pb2.ListNodesRequest(page_size=1))
        assert set(_allowed_cpus(server.process.pid).values()) == {str(min(os.sched_getaffinity(0)))}
    finally:
        code = server.stop()
    assert code == 0, server.logs


def _listed(cpus: list[int]) -> str:
    """CPUs as /proc writes a list of them: ranges joined by commas ("0-1", "0,2")."""
    ranges: list[list[int]] = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def test_cpu_for_takes_the_usable_cpus_round_robin() -> None:
    assert [cpu_for(slot, {3, 1, 5}) for slot in range(4)] == [1, 3, 5, 1]


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`oms-sourcing call --list | head -1`: no traceback when head stops reading."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        result = subprocess.run(
            [sys.executable, "-m", "server.cli.main", "call", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""
