"""The README's commands, run as pasted and in order, against a server started as ``make run`` starts it.

Every ```sh block of README.md is split into its top-level commands (bash itself says when a
command is complete: quotes spanning lines, ``\\`` continuations), and each command runs with
``bash -c`` in a working directory that mirrors the repository (symlinks to what the commands
read, a fresh ``var/``), so nothing is written into the checkout. The server is ``make run``'s
``serve --config config/development.toml --database sqlite:///var/oms-sourcing.db
--load-sample-if-empty`` (``python -m server.cli.main``, the program behind ``.venv/bin/oms-sourcing``,
started in the mirror) on port 0 with metrics on a free port; the clients find it through
``OMS_SOURCING_TARGET``, which they honour. ``$?`` carries from one command to the next as in a
terminal (the simulation gate's ``echo "exit $?"``).

Each command must exit 0 unless EXPECTED says otherwise, and EXPECTED checks what the README
claims a command prints; the Chicago ``Source`` answer must contain the README's abridged JSON.
A command added to the README is run from then on, unless listed in NOT_RUN with its reason:

- ``make run``: this test's server stands in for it (the same flags, port 0, a fresh database);
- ``make test``: the whole suite, this test included; ``make bench``: ten minutes of benchmarks;
- ``serve --database postgresql://...`` (Configuration): needs PostgreSQL, and is a second server
  on ``make run``'s port;
- ``new-token ... --tokens-file /etc/oms-sourcing/tokens`` (Security): writes a production file
  under /etc; ``rules status --target sourcing.example.internal:50051`` (Security) and
  ``benchmarks.load.run --target sourcing.example.internal:50051``: a remote deployment with
  certificates and tokens that only exist there;
- ``benchmarks.service_bench``: a benchmark that starts its own servers for minutes;
  ``benchmarks.summary``: writes into the checkout's benchmarks/results/;
- ``relay --database ...`` (integrations): publishes to NATS until Ctrl-C; tests/server/relay/
  and tests/integration/test_relay_serve.py run it against a real NATS JetStream.

Rewritten, and only these: the metrics address in ``curl`` commands (127.0.0.1:9464 -> the
test server's metrics port; tests never bind the default ports), and, in ``make test``'s
variant, the simulation's ``--orders 20000`` -> ``--orders 2000`` (20,000 orders replayed twice
take about a minute of two busy cores; 2,000 take about ten seconds and fail the same gate, exit
3). ``make tour`` runs the slow variant: the README exactly as pasted. ``WatchEvents --timeout
3600`` streams until Ctrl-C: it runs until its backlog has been printed, then gets the SIGINT a
terminal's Ctrl-C sends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import REPO, ServerProcess, free_port

README = REPO / "README.md"
# What the commands read, linked into the mirror; var/ is its own (make run creates it too).
MIRRORED = (".venv", "benchmarks", "config", "data", "rules")
SERVE_AS_MAKE_RUN = ("--config", "config/development.toml", "--database", "sqlite:///var/oms-sourcing.db")
DEFAULT_METRICS_ADDRESS = "127.0.0.1:9464"
FULL_ORDERS, SMALL_ORDERS = "--orders 20000", "--orders 2000"
COMMAND_TIMEOUT = 600.0

NOT_RUN = {  # a pattern at the start of a command -> why the test does not run it
    r"make run\b": "the test's server stands in for it",
    r"make test\b": "the whole suite, this test included",
    r"make bench\b": "ten minutes of benchmarks",
    r"\S+ serve --database postgresql://": "PostgreSQL, and a second server on make run's port",
    r"\S+ new-token .*--tokens-file /etc/": "writes the production tokens file under /etc",
    r"\S+ rules status --target sourcing\.example\.internal": "a remote deployment",
    r"\S+ -m benchmarks\.load\.run --target sourcing\.example\.internal": "a remote deployment",
    r"\S+ -m benchmarks\.service_bench\b": "a benchmark that runs for minutes",
    r"\S+ -m benchmarks\.summary\b": "writes into the checkout's benchmarks/results/",
    r"\S+ relay --database ": "publishes until Ctrl-C; tests/server/relay/ runs it against NATS",
}


@dataclass(frozen=True)
class Expect:
    code: int = 0
    says: tuple[str, ...] = ()  # regular expressions (multi-line), each found in stdout or stderr


EXPECTED = {  # a pattern found in a command (at most one per command) -> what it must do
    r"oms-sourcing health\b": Expect(says=(r"^SERVING$",)),
    r'call Source --json \'\{"order": \{"order_id": "X"': Expect(
        code=1, says=(r"INVALID_ARGUMENT", r"order\.ship_to\.lat: ", r"order\.lines\[0\]\.qty: ")
    ),
    r"call CheckConservation": Expect(says=(r'"ok": true',)),
    r"call Promise --json": Expect(
        says=(
            r'"carrier_service": "GROUND"[^{]*"delivery_date": "2026-12-02"',
            r'"node_ids": \[\s*"ST-003"\s*\]',
            r'"carrier_service": "TWO_DAY"[^{]*"delivery_date": "2026-12-03"',
            r'"ships_complete": true',
        )
    ),
    r'"order_id": "WEB-1002",.*"NEXT_DAY"': Expect(
        says=(r'"carrier_service": "NEXT_DAY"', r'"delivery_date": "\d{4}-\d\d-\d\d"', r'"allocations"')
    ),
    # By the server's clock: a node and service making the date, or every node late with its dates.
    r'"order_id": "WEB-1003",.*"promised_date"': Expect(says=(r'"carrier_service": "[A-Z_]+"|after the promised',)),
    r"call PromiseProducts --json": Expect(says=(r'"sku": "ACC-00009"', r'"delivery_date": "2026-12-02"')),
    r'"order_id": "WEB-300[13]",.*"fraud_score"': Expect(
        says=(r'"state": "ORDER_STATE_HELD"', r"hold-suspicious-orders")
    ),
    r'"order_id": "WEB-3002",.*"EXPRESS"': Expect(
        says=(r'"state": "ORDER_STATE_BACKORDERED"', r"excluded by rule express-from-nearby-nodes")
    ),
    r"exceptions list": Expect(says=(r"^WEB-3001 +HELD ", r"^WEB-3002 +BACKORDERED ", r"^WEB-3003 +HELD ")),
    r"exceptions release WEB-3001": Expect(says=(r"^WEB-3001: ALLOCATED$",)),
    r"exceptions resource WEB-3002": Expect(says=(r"^WEB-3002: BACKORDERED$",)),
    r"exceptions cancel WEB-3002": Expect(says=(r"^WEB-3002: CANCELLED$",)),
    r'call ReleaseHold .*"order_id": "WEB-3003"': Expect(says=(r'"state": "ORDER_STATE_ALLOCATED"',)),
    r"oms-sourcing load-network": Expect(says=(r"^loaded data/sample-network\.json: 58 nodes, 300 items",)),
    r"curl .*\| grep grpc_server_handled_total": Expect(says=(r'^grpc_server_handled_total\{.*grpc_method="Source"',)),
    r"rules diff": Expect(says=(r"^~ store-safety-stock: then\.protect\.units: 2 -> 3$",)),  # as the prose quotes it
    r"rules test ": Expect(says=(r"passed, 0 failed",)),
    r"rules activate var/candidate\.yaml": Expect(says=(r"^active: version ",)),
    r'"order_id": "WEB-2001"': Expect(says=(r'"rule_set_version"', r'"hazmat-not-from-stores"')),
    r"rules rollback": Expect(says=(r"rolled back",)),
    r"simulate run ": Expect(code=3, says=(r"^FAIL: fill_rate ", r"report: var/simulation/report\.html")),
    r'^echo "exit \$\?"': Expect(says=(r"^exit 3$",)),  # the gate's exit code, shown as the README shows it
    r"oms-sourcing report ": Expect(says=(r"^report: var/live-today/report\.html",)),
    r"curl .*oms_sourcing_\(rules\|store\)_": Expect(
        says=(r"^oms_sourcing_rules_evaluation_seconds", r"^oms_sourcing_store_operation_seconds")
    ),
}
CHICAGO_SOURCE = r'call Source .*"order_id": "WEB-1001"'  # its answer: the README's abridged JSON
WATCH = r"call WatchEvents "


@dataclass(frozen=True)
class Command:
    text: str
    line: int  # where it starts in README.md
    section: str


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


def _complete(text: str) -> bool:
    """Whether bash parses ``text`` as whole commands (no quote or construct left open)."""
    return subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True).returncode == 0


def readme_commands(readme: str) -> list[Command]:
    """Every top-level command of the ```sh blocks, in order, comment-only lines left out."""
    lines = readme.splitlines()
    commands: list[Command] = []
    section, index = "", 0
    while index < len(lines):
        if lines[index].startswith("## "):
            section = lines[index][3:].strip()
        if lines[index].strip() != "```sh":
            index += 1
            continue
        end = lines.index("```", index + 1)
        pending: list[str] = []
        for number in range(index + 1, end):  # 0-based: the README line is number + 1
            if not pending:
                start = number + 1
            pending.append(lines[number])
            text = "\n".join(pending)
            if text.endswith("\\") or not _complete(text):
                continue
            if any(part.strip() and not part.lstrip().startswith("#") for part in pending):
                commands.append(Command(text.strip(), start, section))
            pending = []
        assert not pending, f"README.md:{start}: a command never completes:\n" + "\n".join(pending)
        index = end + 1
    return commands


def abridged_mismatches(actual: Any, shown: Any, path: str = "") -> list[str]:
    """Where ``shown`` (an abridged copy) is not contained in ``actual``: objects may have more keys,
    lists more elements (those shown must appear in the order shown), a float is shown rounded."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        problems: list[str] = []
        for key, value in shown.items():
            if key in actual:
                problems += abridged_mismatches(actual[key], value, f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}: missing")
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [f"{path}: {actual!r} is not a list"]
        remaining = iter(enumerate(actual))
        for n, want in enumerate(shown):
            if not any(not abridged_mismatches(got, want, f"{path}[{i}]") for i, got in remaining):
                return [f"{path}[{n}]: {want!r} not found (in this order) in {actual!r}"]
        return []
    if isinstance(shown, float):
        decimals = len(repr(shown).partition(".")[2])
        ok = isinstance(actual, int | float) and round(actual, decimals) == shown
        return [] if ok else [f"{path}: {actual!r} is not {shown!r}"]
    return [] if actual == shown else [f"{path}: {actual!r} is not {shown!r}"]


def _matching(patterns: Any, command: Command) -> list[str]:
    return [p for p in patterns if re.search(p, command.text, re.S)]


def _mirror(root: Path) -> Path:
    root.mkdir()
    for name in MIRRORED:
        (root / name).symlink_to(REPO / name)
    (root / "var").mkdir()
    return root


def _script(command: Command, previous_code: int) -> str:
    return f"(exit {previous_code})\n{command.text}"  # $? as the terminal has it after the previous command


def _run(command: Command, cwd: Path, env: dict[str, str], previous_code: int) -> Result:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", _script(command, previous_code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _run_until_ctrl_c(command: Command, cwd: Path, env: dict[str, str], out: Path) -> tuple[Result, bool]:
    """A streaming command: until its output has been quiet for 1.5 s (after some), then Ctrl-C
    (SIGINT to the job's process group). Also says whether it was still streaming by then."""
    started = time.monotonic()
    stdout_path, stderr_path = out / "stream.out", out / "stream.err"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            ["bash", "-c", _script(command, 0)],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        size, quiet_since, deadline = 0, time.monotonic(), time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            now_size = stdout_path.stat().st_size
            if now_size != size:
                size, quiet_since = now_size, time.monotonic()
            elif size and time.monotonic() - quiet_since > 1.5:
                break
        streaming = process.poll() is None
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=30)
    result = Result(code, stdout_path.read_text(), stderr_path.read_text(), time.monotonic() - started)
    return result, streaming


def _describe(command: Command, result: Result) -> str:
    return (
        f"README.md:{command.line} ({command.section}) exit {result.code} in {result.seconds:.1f} s:\n"
        f"$ {command.text}\n--- stdout (tail)\n{result.stdout[-3000:]}\n--- stderr (tail)\n{result.stderr[-3000:]}"
    )


def _check_watch(command: Command, result: Result, streaming: bool) -> None:
    assert streaming, "WatchEvents ended by itself:\n" + _describe(command, result)
    assert result.code == 0 and "Traceback" not in result.stderr, "Ctrl-C:\n" + _describe(command, result)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    cursors = [int(event["cursor"]) for event in events]
    # Commit-ordered; the first ones are the sample network's load (events about no order, for the
    # relay), which WatchEvents leaves out: the first order event's cursor is past them.
    assert cursors and cursors == sorted(set(cursors)) and cursors[0] >= 1, cursors
    assert {e["order_id"] for e in events} >= {"WEB-2002", "WEB-3001", "WEB-3002", "WEB-3003"}
    assert all(e["event"]["type"] and e["event"]["created_at"] for e in events)


def run_tour(tmp_path: Path, *, orders: str) -> dict[str, float]:
    """Run every command; returns the seconds each took (README line and command head as key)."""
    readme = README.read_text()
    commands = readme_commands(readme)
    (shown_json,) = re.findall(r"^```json\n(.*?)^```$", readme, re.S | re.M)
    oms = REPO / ".venv" / "bin" / "oms-sourcing"
    assert oms.exists(), f"{oms} is missing: run make install"

    for pattern in [*NOT_RUN, *EXPECTED, CHICAGO_SOURCE, WATCH]:  # a pattern that matches nothing is stale
        assert any(re.search(pattern, c.text, re.S) for c in commands), f"no README command matches {pattern!r}"
    runnable = [c for c in commands if not any(re.match(p, c.text) for p in NOT_RUN)]
    curl_commands = [c for c in runnable if c.text.startswith("curl ")]
    assert curl_commands and all(DEFAULT_METRICS_ADDRESS in c.text for c in curl_commands)
    assert sum(c.text.count(FULL_ORDERS) for c in runnable) == 1

    root = _mirror(tmp_path / "repo")
    metrics_port = free_port()
    server = ServerProcess([*SERVE_AS_MAKE_RUN, "--load-sample-if-empty", "--port", "0",
                            "--metrics-port", str(metrics_port)], cwd=root)  # fmt: skip
    env = {**os.environ, "OMS_SOURCING_TARGET": server.target, "PYTHONDONTWRITEBYTECODE": "1"}
    seconds: dict[str, float] = {}
    try:
        code = 0
        for command in runnable:
            # The only rewrites (module docstring): the metrics address, and the simulation's size.
            text = command.text.replace(FULL_ORDERS, orders)
            if command in curl_commands:
                text = text.replace(DEFAULT_METRICS_ADDRESS, f"127.0.0.1:{metrics_port}")
            run = Command(text, command.line, command.section)
            expected = _matching(EXPECTED, command)
            assert len(expected) <= 1, f"README.md:{command.line}: several expectations match: {expected}"
            if re.search(WATCH, command.text, re.S):
                result, streaming = _run_until_ctrl_c(run, root, env, tmp_path)
                _check_watch(command, result, streaming)
            else:
                result = _run(run, root, env, code)
                expect = EXPECTED[expected[0]] if expected else Expect()
                assert result.code == expect.code, _describe(run, result)
                output = result.stdout + result.stderr
                missing = [s for s in expect.says if not re.search(s, output, re.M)]
                assert not missing, f"does not say {missing}:\n" + _describe(run, result)
            if re.search(CHICAGO_SOURCE, command.text, re.S):
                mismatches = abridged_mismatches(json.loads(result.stdout), json.loads(shown_json))
                assert not mismatches, "the README's answer differs:\n" + "\n".join(mismatches)
            code = result.code
            seconds[f"{command.line}: {command.text.splitlines()[0][:70]}"] = result.seconds
    finally:
        stopped = server.stop()
    assert stopped == 0, f"the server did not exit cleanly on SIGTERM ({stopped}):\n{server.logs[-3000:]}"
    for report in ("var/candidate.yaml", "var/simulation/report.html", "var/live-today/report.html"):
        assert (root / report).is_file(), report
    return seconds


def _print_times(seconds: dict[str, float]) -> None:
    print(f"\n{len(seconds)} README commands in {sum(seconds.values()):.1f} s; the slowest:")
    for name, took in sorted(seconds.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {took:6.1f} s  {name}")


def test_readme_tour_works_as_pasted_with_a_smaller_simulation(tmp_path: Path) -> None:
    _print_times(run_tour(tmp_path, orders=SMALL_ORDERS))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_readme_tour_works_exactly_as_pasted(tmp_path: Path) -> None:
    """``make tour``: the simulation replays the README's 20,000 orders."""
    _print_times(run_tour(tmp_path, orders=FULL_ORDERS))


def test_commands_are_split_as_bash_reads_them() -> None:
    block = ["```sh", "# a comment", 'a --json \'{"k":', '  "v"}\' # trailing', "b \\", "  c", "", 'echo "$?"', "```"]
    text = "\n".join(["x", *block])
    assert [(c.text, c.line) for c in readme_commands(text)] == [
        ('a --json \'{"k":\n  "v"}\' # trailing', 4),
        ("b \\\n  c", 6),
        ('echo "$?"', 9),
    ]


def test_an_abridged_answer_is_contained_only_when_every_shown_fact_holds() -> None:
    actual = {"d": {"xs": [{"id": "A", "n": 275.6264}, {"id": "B"}, {"id": "C", "m": 1}], "s": "OK", "more": 1}}
    assert abridged_mismatches(actual, {"d": {"xs": [{"id": "A", "n": 275.6}, {"id": "C"}], "s": "OK"}}) == []
    assert abridged_mismatches(actual, {"d": {"xs": [{"id": "C"}, {"id": "A"}]}})  # out of order
    assert abridged_mismatches(actual, {"d": {"xs": [{"id": "A", "n": 275.7}]}})  # another number
    assert abridged_mismatches(actual, {"d": {"s": "FAILED"}})
    assert abridged_mismatches(actual, {"d": {"absent": 1}})
