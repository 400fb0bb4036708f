"""TLS, mutual TLS, bearer tokens and roles over real gRPC on real sockets.

Certificates are made at test time (tests/integration/certs.py); the tokens file is written the
way an operator writes it, digests only. The server under test asks for all of it at once
(mutual TLS and tokens), as config/production.toml does.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from server.api import proto
from server.api.app import RunningServer, StartupError, create_server
from server.api.auth import METHOD_ROLES, Principal, Role, Tokens, TokensFileError, new_token, token_digest
from server.api.proto import network_pb2, network_pb2_grpc, orders_pb2, orders_pb2_grpc, rules_pb2, rules_pb2_grpc
from server.cli.client import ClientSecurity, client_security, open_channel
from server.config import Config, ConfigError, load_config
from server.logging import configure_logging
from server.store.base import Store
from tests.conftest import make_sqlite_store
from tests.integration.certs import Certs, make_certs
from tests.integration.conftest import make_config
from tests.integration.helpers import REPO, ServerProcess, node, run_cli
from tests.integration.orders_helpers import allocate, load_network, order, payload_of

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED


@dataclass(frozen=True)
class Keys:
    """One token per role, the tokens file that knows them, and the certificates."""

    certs: Certs
    tokens_file: Path
    token: dict[Role, str]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("security")
    token = {role: new_token() for role in Role}
    lines = ["# role name sha256", *(f"{role} {role}-test {token_digest(token[role])}" for role in Role)]
    tokens_file = directory / "tokens"
    tokens_file.write_text("\n".join(lines) + "\n")
    return Keys(make_certs(directory), tokens_file, token)


def secure_config(keys: Keys, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "tls_cert_file": str(keys.certs.server_cert),
        "tls_key_file": str(keys.certs.server_key),
        "tls_client_ca_file": str(keys.certs.ca),
        "auth_tokens_file": str(keys.tokens_file),
        "reflection": True,
    }
    values.update(overrides)
    return make_config(**values)


@pytest.fixture(scope="module")
def secure_server(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    store = make_sqlite_store(tmp_path_factory.mktemp("security-db") / "s.db")
    running = create_server(secure_config(keys), store)
    yield running
    running.stop(grace=0)
    store.close()


def client(keys: Keys, role: Role | None = None, **overrides: Any) -> ClientSecurity:
    """Mutual TLS as the server asks, and ``role``'s token (none without a role)."""
    values: dict[str, Any] = {
        "ca_file": str(keys.certs.ca),
        "cert_file": str(keys.certs.client_cert),
        "key_file": str(keys.certs.client_key),
        "token": keys.token[role] if role else "",
    }
    values.update(overrides)
    return ClientSecurity(**values)


def health_check(target: str, security: ClientSecurity) -> int:
    with open_channel(target, security) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(reply.status)


def code_of(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


SERVING = health_pb2.HealthCheckResponse.SERVING


# --- the table ------------------------------------------------------------------------------


def test_every_served_method_has_its_row_and_operators_may_call_everything() -> None:
    served = {
        f"/{service.full_name}/{method.name}" for service in proto.service_descriptors() for method in service.methods
    }
    assert set(METHOD_ROLES) == served
    assert all(Role.OPERATOR in roles for roles in METHOD_ROLES.values())


def test_configuration_doc_shows_the_table() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    for method, roles in METHOD_ROLES.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{method.rsplit('/', 1)[1]}` "))
        cells = [cell.strip() for cell in row.split("|")[2:5]]
        assert cells == ["yes" if role in roles else "" for role in Role], method


# --- TLS and mutual TLS ---------------------------------------------------------------------


def test_tls_and_a_client_certificate_reach_the_server(keys: Keys, secure_server: RunningServer) -> None:
    assert health_check(secure_server.target, client(keys)) == SERVING


def test_a_plaintext_client_fails_against_tls(secure_server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_check(secure_server.target, ClientSecurity())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_trusting_another_ca_fails_the_handshake(keys: Keys, secure_server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_check(secure_server.target, client(keys, ca_file=str(keys.certs.other_ca)))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_client_without_a_certificate(keys: Keys, secure_server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_check(secure_server.target, ClientSecurity(ca_file=str(keys.certs.ca)))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_certificate_another_ca_signed(keys: Keys, secure_server: RunningServer) -> None:
    other = client(keys, cert_file=str(keys.certs.other_client_cert), key_file=str(keys.certs.other_client_key))
    with pytest.raises(grpc.RpcError) as caught:
        health_check(secure_server.target, other)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_without_client_certificates(keys: Keys, sqlite_store: Store) -> None:
    running = create_server(secure_config(keys, tls_client_ca_file="", auth_tokens_file=""), sqlite_store)
    try:
        assert health_check(running.target, ClientSecurity(ca_file=str(keys.certs.ca))) == SERVING
        with pytest.raises(grpc.RpcError):
            health_check(running.target, ClientSecurity())
    finally:
        running.stop(grace=0)


# --- tokens and roles -----------------------------------------------------------------------


def network_stub(keys: Keys, running: RunningServer, role: Role | None, **overrides: Any) -> Any:
    return network_pb2_grpc.NetworkServiceStub(open_channel(running.target, client(keys, role, **overrides)))


def test_health_needs_no_token(keys: Keys, secure_server: RunningServer) -> None:
    assert health_check(secure_server.target, client(keys, role=None)) == SERVING


def test_a_missing_token_is_unauthenticated(keys: Keys, secure_server: RunningServer) -> None:
    stub = network_stub(keys, secure_server, role=None)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListNodes(network_pb2.ListNodesRequest(), timeout=5)
    assert caught.value.code() == UNAUTHENTICATED
    assert "missing bearer token" in caught.value.details()
    labels = {"grpc_type": "unary", "grpc_service": "oms.sourcing.v1.NetworkService", "grpc_method": "ListNodes"}
    refused = secure_server.metrics_registry.get_sample_value(
        "grpc_server_handled_total", {**labels, "grpc_code": "UNAUTHENTICATED"}
    )
    assert refused is not None and refused >= 1  # counted, where they are not logged


@pytest.mark.parametrize(
    "metadata",
    [
        [("authorization", "Basic dXNlcjpwYXNz")],
        [("authorization", "Bearer")],
        [("authorization", "Bearer two words")],
        [("authorization", "Bearer a"), ("authorization", "Bearer b")],
        [("authorization", "Bearer " + new_token())],  # well formed, but nobody's
    ],
    ids=["basic", "empty", "spaces", "twice", "unknown"],
)
def test_a_malformed_or_unknown_token_is_unauthenticated(
    keys: Keys, secure_server: RunningServer, metadata: list[tuple[str, str]]
) -> None:
    stub = network_stub(keys, secure_server, role=None)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListNodes(network_pb2.ListNodesRequest(), metadata=metadata, timeout=5)
    assert caught.value.code() == UNAUTHENTICATED
    assert all(value.split(" ")[-1] not in caught.value.details() for _, value in metadata if len(value) > 12)


def _calls(channel: grpc.Channel) -> dict[str, Callable[[], Any]]:
    network = network_pb2_grpc.NetworkServiceStub(channel)
    orders = orders_pb2_grpc.OrderServiceStub(channel)
    rules = rules_pb2_grpc.RulesServiceStub(channel)
    default_rules = (REPO / "rules" / "default.yaml").read_text()
    return {
        "ListNodes": lambda: network.ListNodes(network_pb2.ListNodesRequest(), timeout=5),
        "UpsertNodes": lambda: network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-SEC")]), timeout=5),
        "ActivateRules": lambda: rules.ActivateRules(rules_pb2.ActivateRulesRequest(), timeout=5),
        "ValidateRules": lambda: rules.ValidateRules(
            rules_pb2.ValidateRulesRequest(files=[rules_pb2.RuleFile(name="default.yaml", content=default_rules)]),
            timeout=30,
        ),
        "ListOrders": lambda: orders.ListOrders(orders_pb2.ListOrdersRequest(), timeout=5),
        "Allocate": lambda: orders.Allocate(orders_pb2.AllocateRequest(), timeout=5),
        "ReleaseHold": lambda: orders.ReleaseHold(orders_pb2.ReleaseHoldRequest(), timeout=5),
    }


@pytest.mark.parametrize(
    ("role", "method", "expected"),
    [
        (Role.CALLER, "ListNodes", grpc.StatusCode.OK),
        (Role.CALLER, "ListOrders", grpc.StatusCode.OK),
        (Role.CALLER, "UpsertNodes", PERMISSION_DENIED),
        (Role.CALLER, "ActivateRules", PERMISSION_DENIED),
        (Role.CALLER, "ReleaseHold", PERMISSION_DENIED),
        (Role.PLANNER, "ValidateRules", grpc.StatusCode.OK),
        (Role.PLANNER, "ListNodes", grpc.StatusCode.OK),
        (Role.PLANNER, "Allocate", PERMISSION_DENIED),
        (Role.PLANNER, "UpsertNodes", PERMISSION_DENIED),
        (Role.OPERATOR, "UpsertNodes", grpc.StatusCode.OK),
        (Role.OPERATOR, "ValidateRules", grpc.StatusCode.OK),
    ],
)
def test_roles(keys: Keys, secure_server: RunningServer, role: Role, method: str, expected: grpc.StatusCode) -> None:
    with open_channel(secure_server.target, client(keys, role)) as channel:
        assert code_of(_calls(channel)[method]) == expected


def test_a_refused_call_changes_nothing_and_says_which_roles_may(keys: Keys, secure_server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        network_stub(keys, secure_server, Role.PLANNER).UpsertNodes(
            network_pb2.UpsertNodesRequest(nodes=[node("DC-PLANNED")]), timeout=5
        )
    assert caught.value.code() == PERMISSION_DENIED
    assert caught.value.details() == (
        "role planner may not call oms.sourcing.v1.NetworkService/UpsertNodes; it needs operator"
    )
    listed = network_stub(keys, secure_server, Role.CALLER).ListNodes(network_pb2.ListNodesRequest(), timeout=5)
    assert "DC-PLANNED" not in [n.id for n in listed.nodes]


def test_a_server_stream_is_refused_as_a_unary_call_is(keys: Keys, secure_server: RunningServer) -> None:
    with open_channel(secure_server.target, client(keys, role=None)) as channel:
        stream = orders_pb2_grpc.OrderServiceStub(channel).WatchEvents(orders_pb2.WatchEventsRequest(), timeout=5)
        assert code_of(lambda: next(stream)) == UNAUTHENTICATED


def test_reflection_needs_a_token(keys: Keys, secure_server: RunningServer) -> None:
    with open_channel(secure_server.target, client(keys, role=None)) as channel:
        assert code_of(lambda: ProtoReflectionDescriptorDatabase(channel).get_services()) == UNAUTHENTICATED
    with open_channel(secure_server.target, client(keys, Role.PLANNER)) as channel:
        assert "oms.sourcing.v1.RulesService" in ProtoReflectionDescriptorDatabase(channel).get_services()


def test_tokens_are_never_logged(keys: Keys, sqlite_store: Store) -> None:
    """Every path a token can take (accepted, refused for its role, unknown, malformed, a call that
    fails inside the handler) at DEBUG, where every call is logged."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("text", "DEBUG", stream)
    unknown = new_token()
    try:
        running = create_server(secure_config(keys), sqlite_store)
        try:
            for role in Role:
                with open_channel(running.target, client(keys, role)) as channel:
                    for call in _calls(channel).values():
                        code_of(call)
            with open_channel(running.target, client(keys, token=unknown)) as channel:
                code_of(_calls(channel)["ListNodes"])
            with open_channel(running.target, client(keys)) as channel:
                stub = network_pb2_grpc.NetworkServiceStub(channel)
                code_of(lambda: stub.ListNodes(network_pb2.ListNodesRequest(), metadata=[("authorization", unknown)]))
        finally:
            running.stop(grace=0)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    logs = stream.getvalue()
    assert "PERMISSION_DENIED" in logs and "UNAUTHENTICATED" in logs and "permission denied" in logs  # logged at all
    assert "token_name=caller-test" in logs  # who was refused, by name
    for secret in (*keys.token.values(), unknown):
        assert secret not in logs


# --- files and settings ---------------------------------------------------------------------


def test_tokens_file_errors_name_the_line_and_never_repeat_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    pasted = new_token()
    for content, message in [
        (f"caller oms {pasted}\n", "line 1: the third field must be the token's SHA-256"),
        (f"admin oms {token_digest(pasted)}\n", "line 1: role must be one of caller, planner, operator"),
        (f"# a comment\n\ncaller oms {token_digest('a')}\ncaller oms {token_digest('b')}\n", "line 4: name or digest"),
        ("caller oms\n", "line 1: expected ROLE NAME SHA256-HEX"),
        ("# nothing\n", "no tokens"),
    ]:
        path.write_text(content)
        with pytest.raises(TokensFileError, match=message) as caught:
            Tokens.read(path)
        assert pasted not in str(caught.value)
    with pytest.raises(TokensFileError, match=r"auth_tokens_file .*missing"):
        Tokens.read(tmp_path / "missing")


def test_settings_that_go_together(keys: Keys) -> None:
    with pytest.raises(ConfigError, match="tls_key_file and tls_cert_file go together"):
        make_config(tls_cert_file=str(keys.certs.server_cert))
    with pytest.raises(ConfigError, match="tls_client_ca_file needs tls_cert_file"):
        make_config(tls_client_ca_file=str(keys.certs.ca))
    with pytest.raises(ConfigError, match="--cert-file needs --ca-file"):
        ClientSecurity(cert_file="c", key_file="k")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tls_cert_file": "missing.crt"}, "tls_cert_file missing.crt: No such file"),
        ({"tls_client_ca_file": "TOKENS"}, r"tls_client_ca_file .*not a PEM file"),
        ({"auth_tokens_file": "missing-tokens"}, "auth_tokens_file missing-tokens"),
        ({"tls_key_file": "OTHER_KEY"}, "not a certificate chain and its key"),
    ],
)
def test_a_bad_file_stops_the_start_naming_the_setting(
    keys: Keys, sqlite_store: Store, overrides: dict[str, str], message: str
) -> None:
    files = {"TOKENS": str(keys.tokens_file), "OTHER_KEY": str(keys.certs.client_key)}
    config = secure_config(keys, **{name: files.get(value, value) for name, value in overrides.items()})
    with pytest.raises(StartupError, match=message):
        create_server(config, sqlite_store)


def test_production_config_asks_for_tls_client_certificates_and_tokens() -> None:
    config = load_config({}, {}, REPO / "config" / "production.toml")
    assert config.tls_cert_file and config.tls_key_file and config.tls_client_ca_file and config.auth_tokens_file
    assert config.reflection is False
    development = load_config({}, {}, REPO / "config" / "development.toml")
    assert not (development.tls_cert_file or development.tls_client_ca_file or development.auth_tokens_file)


def test_client_settings_flags_win_over_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file\n")
    env = {"OMS_SOURCING_CA_FILE": "env-ca", "OMS_SOURCING_TOKEN": "from-the-env"}
    assert client_security(env) == ClientSecurity(ca_file="env-ca", token="from-the-env")
    flags = client_security(env, ca_file="flag-ca", token_file=str(token_file))
    assert flags == ClientSecurity(ca_file="flag-ca", token="from-the-file")
    assert "from-the-file" not in repr(flags)
    token_file.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        client_security(env, token_file=str(token_file))


def test_new_token_refuses_a_name_the_tokens_file_cannot_hold(tmp_path: Path) -> None:
    result = run_cli("new-token", "caller", "two words", "--token-out", str(tmp_path / "t"))
    assert result.returncode == 2 and "one word" in result.stderr and not (tmp_path / "t").exists()


def test_new_token_appends_to_a_tokens_file_it_creates_with_its_folder(tmp_path: Path) -> None:
    """The README's line works on a machine without /etc/oms-sourcing: folder and file are made,
    owner only, the line appended; a second token of the same name is refused and changes nothing."""
    tokens_file = tmp_path / "etc" / "oms-sourcing" / "tokens"
    made = run_cli(
        "new-token", "planner", "ann", "--token-out", str(tmp_path / "ann.token"), "--tokens-file", str(tokens_file)
    )
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tokens_file.parent).st_mode) == 0o700
    second = run_cli(
        "new-token", "caller", "web", "--token-out", str(tmp_path / "web.token"), "--tokens-file", str(tokens_file)
    )
    assert second.returncode == 0, second.stderr
    tokens = Tokens.read(tokens_file)
    assert tokens.identify((tmp_path / "ann.token").read_text().strip()) == Principal("ann", Role.PLANNER)
    assert tokens.identify((tmp_path / "web.token").read_text().strip()) == Principal("web", Role.CALLER)
    before = tokens_file.read_text()
    again = run_cli(
        "new-token", "caller", "ann", "--token-out", str(tmp_path / "ann2.token"), "--tokens-file", str(tokens_file)
    )
    assert again.returncode == 2 and "already has a token named 'ann'" in again.stderr
    assert tokens_file.read_text() == before and not (tmp_path / "ann2.token").exists()


# --- the command line -----------------------------------------------------------------------


def test_the_command_line_over_mutual_tls_with_tokens(keys: Keys, tmp_path: Path) -> None:
    """``serve`` with the security flags, a token made by ``new-token``, and the client commands
    with --ca-file, --cert-file, --key-file and the token from a file or the environment."""
    caller_token = tmp_path / "caller.token"
    made = run_cli("new-token", "caller", "oms-web", "--token-out", str(caller_token))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(caller_token).st_mode) == 0o600
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(made.stdout + f"planner ann {token_digest(keys.token[Role.PLANNER])}\n")
    certs = keys.certs
    server = ServerProcess(
        ["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{tmp_path / 'cli.db'}",
         "--tls-cert-file", str(certs.server_cert), "--tls-key-file", str(certs.server_key),
         "--tls-client-ca-file", str(certs.ca), "--auth-tokens-file", str(tokens_file), "--log-level", "DEBUG"]
    )  # fmt: skip
    try:
        mtls = ["--target", server.target, "--ca-file", str(certs.ca),
                "--cert-file", str(certs.client_cert), "--key-file", str(certs.client_key)]  # fmt: skip
        health = run_cli("health", *mtls)
        assert health.returncode == 0 and health.stdout.strip() == "SERVING", health.stderr

        as_caller = run_cli("call", "ListNodes", *mtls, "--token-file", str(caller_token))
        assert as_caller.returncode == 0, as_caller.stderr
        refused = run_cli("call", "UpdateInventory", *mtls, "--token-file", str(caller_token))
        assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr
        anonymous = run_cli("call", "ListNodes", *mtls)
        assert anonymous.returncode == 1 and "UNAUTHENTICATED" in anonymous.stderr

        planner_env = {"OMS_SOURCING_TOKEN": keys.token[Role.PLANNER]}
        status = run_cli("rules", "status", *mtls, env=planner_env)
        assert status.returncode == 1 and "NOT_FOUND" in status.stderr  # authorized; no rule set yet
        activate = run_cli("rules", "activate", "rules/default.yaml", "--by", "ann", *mtls, env=planner_env)
        assert activate.returncode == 0, activate.stderr

        plaintext = run_cli("health", "--target", server.target, "--timeout", "2")
        assert plaintext.returncode == 1 and "UNAVAILABLE" in plaintext.stderr
    finally:
        assert server.stop() == 0, server.logs
    assert "transport=mutual-tls" in server.logs and "auth_tokens=2" in server.logs
    assert "token_name=oms-web" in server.logs and "code=PERMISSION_DENIED" in server.logs
    for secret in (caller_token.read_text().strip(), keys.token[Role.PLANNER]):
        assert secret not in server.logs and secret not in "".join(server.stdout)


def test_help_names_the_security_flags() -> None:
    serve = run_cli("serve", "--help").stdout
    for flag in ("--tls-cert-file", "--tls-key-file", "--tls-client-ca-file", "--auth-tokens-file"):
        assert flag in serve, flag
    call = run_cli("call", "--help").stdout
    for flag in ("--ca-file", "--cert-file", "--key-file", "--token-file", "OMS_SOURCING_TOKEN"):
        assert flag in call, flag


# --- who did it: the token, in the history --------------------------------------------------


A_RULE = "rules:\n  - id: far-costs-more\n    then: {penalize: {node: {id: FAR}, per_unit: 1}}\n"


def test_the_history_names_the_token_that_made_each_change(keys: Keys, secure_server: RunningServer) -> None:
    """``approved_by`` and ``activated_by`` are free text; the audit also names the credential."""
    with open_channel(secure_server.target, client(keys, Role.OPERATOR)) as channel:
        load_network(channel, [("NEAR", "A", 5)])
    with open_channel(secure_server.target, client(keys, Role.CALLER)) as channel:
        orders = orders_pb2_grpc.OrderServiceStub(channel)  # type: ignore[no-untyped-call]
        orders.Allocate(allocate(order("SEC-1", ("A", 1))), timeout=10)
        cancel = orders_pb2.CancelRequest(request_key="sec-cancel-1", order_id="SEC-1", reason="asked")
        history = orders.Cancel(cancel, timeout=10).order.events
    assert [(e.type, payload_of(e)["by"]) for e in history] == [
        ("ALLOCATED", "caller-test"),
        ("CANCELLED", "caller-test"),
    ]
    with open_channel(secure_server.target, client(keys, Role.PLANNER)) as channel:
        rules = rules_pb2_grpc.RulesServiceStub(channel)  # type: ignore[no-untyped-call]
        rule_file = rules_pb2.RuleFile(name="r.yaml", content=A_RULE)
        rules.ActivateRules(rules_pb2.ActivateRulesRequest(files=[rule_file], activated_by="ann"), timeout=30)
        newest = rules.GetRuleSet(rules_pb2.GetRuleSetRequest(history_limit=1), timeout=10).history[0]
    assert newest.activated_by == "ann (token planner-test)"
