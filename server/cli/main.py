"""The ``oms-sourcing`` command line: serve, migrate, call, load-network, import, health, rules,
exceptions, simulate, report, new-token, relay.

Exit codes: 0 success; 1 the call or the server failed (a non-OK status, NOT_SERVING, a server
that could not start); 2 bad usage or input (argparse's convention); 3 a ``simulate run`` or
``report`` ``--fail-if`` threshold failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from server.api import proto
from server.api.auth import Role, Tokens, TokensFileError, new_token, token_digest
from server.cli.client import add_client_security_flags, open_channel, security_from_args
from server.cli.exceptions import add_exceptions_commands
from server.cli.progress import progress_bar
from server.cli.rules import add_rules_commands
from server.config import ConfigError, add_config_flags, config_from_args, load_config
from server.errors import UsageError
from server.logging import configure_logging

DEFAULT_TARGET = "127.0.0.1:50051"
# The CLI is a client: it accepts any response the server may legally send.
_CLIENT_OPTIONS = [("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30)]


def _env() -> dict[str, str]:
    return dict(os.environ)


# --- serve and migrate ----------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    config = config_from_args(args, _env())
    configure_logging(config.log_format, config.log_level)
    from server.runtime.integrations import integrations_wanted

    if config.workers > 1 or integrations_wanted(config):  # a relay or webhooks: a process beside the handlers
        from server.runtime.workers import run_workers

        return run_workers(config, out)
    from server.runtime.serve import run_server

    if config.pin_cpus:
        from server.runtime.affinity import pin_process

        pin_process(0)

    def announce(running: Any) -> None:
        metrics = running.metrics_endpoint
        suffix = f"; metrics on {config.metrics_host}:{metrics.port}" if metrics else ""
        print(f"serving on {running.address}{suffix}", file=out, flush=True)

    return run_server(config, on_ready=announce)


def cmd_migrate(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config({"database_url": args.database}, _env(), args.config)
    configure_logging(config.log_format, config.log_level)
    from server.store import open_store

    store = open_store(config.database_url)
    try:
        version = store.migrate()
        problems = store.check_durability()
    finally:
        store.close()
    print(f"{store.dialect} store at schema version {version}", file=out)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


# --- client commands ------------------------------------------------------------------------


def _channel(args: argparse.Namespace) -> grpc.Channel:
    return open_channel(args.target, security_from_args(args, _env()), _CLIENT_OPTIONS)


def print_rpc_error(error: grpc.RpcError, err: TextIO) -> None:
    """The status code, message and every rich detail a caller needs to fix the request."""
    call: Any = error
    print(f"error: {call.code().name}: {call.details()}", file=err)
    status = rpc_status.from_call(call)
    if status is None:
        return
    for detail in status.details:
        for kind in (
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.ResourceInfo,
            error_details_pb2.RequestInfo,
        ):
            if detail.Is(kind.DESCRIPTOR):
                info = kind()
                detail.Unpack(info)
                _print_detail(info, err)


def _print_detail(info: Message, err: TextIO) -> None:
    if isinstance(info, error_details_pb2.BadRequest):
        for v in info.field_violations:
            print(f"  {v.field or '(request)'}: {v.description}", file=err)
    elif isinstance(info, error_details_pb2.PreconditionFailure):
        for p in info.violations:
            print(f"  {p.subject}: {p.description} ({p.type})", file=err)
    elif isinstance(info, error_details_pb2.ResourceInfo):
        print(f"  {info.resource_type} {info.resource_name}: {info.description}", file=err)
    elif isinstance(info, error_details_pb2.RequestInfo):
        print(f"  request id: {info.request_id}", file=err)


def all_methods() -> list[MethodDescriptor]:
    return [m for service in proto.service_descriptors() for m in service.methods]


def find_method(name: str) -> MethodDescriptor:
    """By ``Method``, ``Service.Method``, ``Service/Method`` or the full ``/pkg.Service/Method``."""
    wanted = name.strip("/").replace("/", ".")
    methods = all_methods()
    matches = [m for m in methods if m.full_name == wanted or m.full_name.endswith("." + wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no method {name!r}; known: {', '.join(_short(m) for m in methods)}")
    raise UsageError(f"{name!r} is ambiguous: {', '.join(_short(m) for m in matches)}")


def _short(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


def _read_json_argument(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise UsageError(f"cannot read {value[1:]}: {error.strerror}") from None
    return value


def cmd_call(args: argparse.Namespace, out: TextIO) -> int:
    if args.list:
        for method in all_methods():
            print(f"{_short(method)}  ({method.input_type.name} -> {method.output_type.name})", file=out)
        return 0
    if not args.method:
        raise UsageError("name a METHOD (or use --list)")
    method = find_method(args.method)
    if method.client_streaming:
        raise UsageError(f"{_short(method)} is a client-streaming method; call handles unary and server streams")
    request_class: Any = message_factory.GetMessageClass(method.input_type)
    response_class: Any = message_factory.GetMessageClass(method.output_type)
    try:
        request = json_format.Parse(_read_json_argument(args.json), request_class())
    except json_format.ParseError as error:
        raise UsageError(f"--json is not a valid {method.input_type.full_name}: {error}") from None
    path = f"/{method.containing_service.full_name}/{method.name}"
    with _channel(args) as channel:
        if method.server_streaming:  # one JSON object a line, as they arrive; --timeout ends the stream
            return _print_stream(channel, path, request, request_class, response_class, args.timeout, out)
        stub: Callable[..., Any] = channel.unary_unary(
            path, request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
        )
        try:
            response = stub(request, timeout=args.timeout)
        except grpc.RpcError as error:
            print_rpc_error(error, sys.stderr)
            return 1
    print(message_json(response, indent=2, empty_lists=True), file=out)
    return 0


def message_json(message: Any, indent: int | None, empty_lists: bool = False) -> str:
    """The protobuf JSON mapping of ``message``, its Structs (event payloads) with keys in order
    and whole numbers (units, milliseconds) written as 2, not 2.0: a Struct holds every number as
    a double, and Python's mapping prints a double's fraction. ``empty_lists``: a response's own
    lists are printed when empty (``{"orders": []}``), where the mapping would leave them out and
    print ``{}``, which reads like no answer at all."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    _whole_numbers_in_structs(message, data)
    if empty_lists:
        for field in message.DESCRIPTOR.fields:
            is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
            if field.is_repeated and not is_map and field.name not in data:
                data[field.name] = []
    return json.dumps(data, indent=indent, ensure_ascii=False)


def _whole_numbers_in_structs(message: Any, data: dict[str, Any]) -> None:
    for field, value in message.ListFields():
        if field.message_type is None or field.name not in data:
            continue
        if field.message_type.full_name == "google.protobuf.Struct":
            data[field.name] = _whole(data[field.name])
        elif field.message_type.GetOptions().map_entry:
            continue
        elif field.is_repeated:
            for item, item_data in zip(value, data[field.name], strict=True):
                _whole_numbers_in_structs(item, item_data)
        else:
            _whole_numbers_in_structs(value, data[field.name])


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, dict):  # keys in order: a map's own order is arbitrary
        return {k: _whole(v) for k, v in sorted(value.items())}
    return value


def _print_stream(
    channel: grpc.Channel, path: str, request: Any, request_class: Any, response_class: Any, timeout: float, out: TextIO
) -> int:
    """Prints the stream from a worker thread while the main thread waits for it, so that Ctrl-C
    (KeyboardInterrupt, raised on the main thread only) lands in that wait and cancels the call,
    never inside gRPC's own code: an exception raised there can leave the call's state half
    changed and hang the channel's close (grpc/grpc#19973), which made Ctrl-C hang now and then."""
    stream: Callable[..., Any] = channel.unary_stream(
        path, request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
    )
    call = stream(request, timeout=timeout)
    exit_code: list[int] = []
    interrupted = threading.Event()
    printer = threading.Thread(
        target=lambda: exit_code.append(_print_messages(call, interrupted, out)), name="stream-printer"
    )
    printer.daemon = True
    printer.start()
    try:
        while printer.is_alive():
            printer.join(0.2)
    except KeyboardInterrupt:  # Ctrl-C: the normal way to end a stream
        interrupted.set()
        call.cancel()
        printer.join(5)
        return 0
    return exit_code[0] if exit_code else 1


def _print_messages(call: Any, interrupted: threading.Event, out: TextIO) -> int:
    try:
        for message in call:
            print(message_json(message, indent=None), file=out)
            out.flush()
    except grpc.RpcError as error:
        # The caller's --timeout, or our own cancel on Ctrl-C: a normal end.
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED or interrupted.is_set():
            return 0
        print_rpc_error(error, sys.stderr)
        return 1
    return 0


def cmd_health(args: argparse.Namespace, out: TextIO) -> int:
    with _channel(args) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as error:
            print_rpc_error(error, sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(status, file=out)
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


# What each upsert of a network load adds to (UpsertHolidayCalendars counts nothing, as before).
_COUNTED_BY = {
    "UpsertNodes": "nodes",
    "UpsertRateTables": "rate_tables",
    "UpsertCarrierServices": "services",
    "UpsertNodeSchedules": "schedules",
    "UpsertItems": "items",
    "UpsertSkuAliases": "aliases",
    "UpsertItemUnits": "units",
}


def cmd_load_network(args: argparse.Namespace, out: TextIO) -> int:
    from server.api.network_load import plan_requests
    from server.network_file import NetworkFileError, read_network_file

    try:
        network = read_network_file(args.file)
    except NetworkFileError as error:
        print(f"error: {error.source}: {len(error.problems)} problem(s)", file=sys.stderr)
        for where, problem in error.problems:
            print(f"  {where}: {problem}", file=sys.stderr)
        return 2
    except OSError as error:
        raise UsageError(f"cannot read {args.file}: {error.strerror}") from None
    plan = plan_requests(network, args.chunk_size)
    counts = {
        "nodes": 0,
        "rate_tables": 0,
        "items": 0,
        "applied": 0,
        "stale": 0,
        "shorted": 0,
        "schedules": 0,
        "services": 0,
        "aliases": 0,
        "units": 0,
    }
    progress = progress_bar(plan.request_count)
    with _channel(args) as channel:
        stub = proto.network_pb2_grpc.NetworkServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            for name, request in plan.in_order():
                response = getattr(stub, name)(request, timeout=args.timeout)
                if name == "UpdateInventory":
                    for result in response.results:
                        applied = result.outcome == proto.network_pb2.UPDATE_OUTCOME_APPLIED
                        counts["applied" if applied else "stale"] += 1
                        counts["shorted"] += result.shorted_units
                elif name in _COUNTED_BY:
                    counts[_COUNTED_BY[name]] += response.upserted_count
                progress(1)
        except grpc.RpcError as error:
            progress(0, close=True)
            print_rpc_error(error, sys.stderr)
            return 1
    progress(0, close=True)
    rates = f"{counts['rate_tables']} rate tables, " if plan.rate_tables else ""
    promise = f"{counts['services']} carrier services, " if plan.carrier_services else ""
    promise += f"{counts['schedules']} node schedules, " if plan.schedules else ""
    promise += f"{counts['aliases']} SKU aliases, " if plan.sku_aliases else ""
    promise += f"{counts['units']} item units, " if plan.item_units else ""
    print(
        f"loaded {args.file}: {counts['nodes']} nodes, {rates}{counts['items']} items, {promise}"
        f"{counts['applied'] + counts['stale']} inventory counts "
        f"({counts['applied']} applied, {counts['stale']} stale ignored) in {plan.request_count} requests",
        file=out,
    )
    if counts["shorted"]:  # the file counted less than orders held: their holds gave way
        print(f"{counts['shorted']} reserved units were no longer on hand: taken back from orders", file=out)
    return 0


def cmd_new_token(args: argparse.Namespace, out: TextIO) -> int:
    """The token goes to a new file of the caller's only (0600), never to the terminal; the
    tokens-file line (its digest) is appended to --tokens-file (its folder and the file made, owner
    only, when missing) or printed to stdout."""
    if not args.name.isprintable() or any(c.isspace() or c == "#" for c in args.name):
        raise UsageError("NAME is one word without '#' (the tokens file splits on spaces; '#' starts a comment)")
    if args.tokens_file and _tokens_file_names(args.tokens_file) & {args.name}:
        raise UsageError(f"{args.tokens_file} already has a token named {args.name!r} (names are unique)")
    token = new_token()
    line = f"{args.role} {args.name} {token_digest(token)}"
    _write_private(args.token_out, token + "\n", exclusive=True)
    if args.tokens_file:
        _write_private(args.tokens_file, line + "\n", exclusive=False)
        print(f"appended {args.role} {args.name} to {args.tokens_file}; the token is in {args.token_out}", file=out)
    else:
        print(line, file=out)
    return 0


def _tokens_file_names(path: str) -> frozenset[str]:
    """The names a tokens file already holds (none when it does not exist yet or is empty)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return frozenset()
    try:
        return Tokens.read(path).names
    except TokensFileError as error:
        raise UsageError(str(error)) from None


def _write_private(path: str, text: str, exclusive: bool) -> None:
    """Create (exclusive) or append to ``path``, readable by its owner only, making missing folders
    (0700): secrets and their digests are nobody else's business."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_APPEND)
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(os.open(path, flags, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


# --- the parser -----------------------------------------------------------------------------


def _client_flags(parser: argparse.ArgumentParser, timeout: float) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get("OMS_SOURCING_TARGET", DEFAULT_TARGET),
        help=f"server host:port (default: $OMS_SOURCING_TARGET or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--timeout", type=float, default=timeout, help=f"deadline per call in seconds (default {timeout:g})"
    )
    add_client_security_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms-sourcing", description="Order sourcing decision service.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the gRPC server", description="Run the gRPC server until SIGTERM/SIGINT.")
    add_config_flags(serve)
    serve.set_defaults(run=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations", description="Apply pending migrations.")
    migrate.add_argument("--database", help="store URL (default: the settings' database_url)")
    migrate.add_argument("--config", metavar="FILE", help="TOML settings file to take database_url from")
    migrate.set_defaults(run=cmd_migrate)

    call = sub.add_parser(
        "call",
        help="call any unary RPC with a JSON request",
        description="Call any unary method of the oms.sourcing.v1 services. The request and response use "
        "the protobuf JSON mapping; a non-OK status is printed with its details and exits 1.",
    )
    call.add_argument("method", nargs="?", metavar="METHOD", help="e.g. ListNodes or NetworkService.ListNodes")
    call.add_argument("--json", default="{}", help="request as JSON, @FILE to read it from a file, - for stdin")
    call.add_argument("--list", action="store_true", help="list the methods that can be called")
    _client_flags(call, timeout=30.0)
    call.set_defaults(run=cmd_call)

    load = sub.add_parser(
        "load-network",
        help="send a network file to a running server",
        description="Read a network file and send it over gRPC: UpsertNodes, UpsertRateTables (when the file has "
        "rate_tables), UpsertHolidayCalendars, UpsertCarrierServices and UpsertNodeSchedules (its promise data), "
        "UpsertItems, then UpdateInventory, in chunks within the API's per-call bounds.",
    )
    load.add_argument("file", metavar="FILE", help="network file (JSON, see docs/network-file.md)")
    load.add_argument("--chunk-size", type=int, default=0, help="entries per request (default: the API's bound)")
    _client_flags(load, timeout=60.0)
    load.set_defaults(run=cmd_load_network)

    health = sub.add_parser(
        "health", help="check a server's health", description="Exit 0 only when the server reports SERVING."
    )
    health.add_argument("--service", default="", help="service to check (default: the whole server)")
    _client_flags(health, timeout=5.0)
    health.set_defaults(run=cmd_health)

    token = sub.add_parser(
        "new-token",
        help="make a bearer token and its line for the server's tokens file",
        description="Write a new random token to --token-out (created 0600; give it to the client) and append "
        "'ROLE NAME SHA256' to --tokens-file, the server's auth_tokens_file (created 0600 with its folder when "
        "missing), or print that line. The tokens file holds digests, never tokens.",
    )
    token.add_argument("role", choices=[str(role) for role in Role], help="what the token may do")
    token.add_argument("name", help="who holds it (logged on a refusal; unique in the tokens file)")
    token.add_argument("--token-out", required=True, metavar="FILE", help="new file to write the token to")
    token.add_argument(
        "--tokens-file", metavar="FILE", help="the server's tokens file to append the line to (default: print it)"
    )
    token.set_defaults(run=cmd_new_token)

    from server.simulation.command import add_simulate_parser  # planner simulation (docs/order-history.md)

    add_simulate_parser(sub)
    from server.simulation.live import add_report_parser  # the same KPIs over the live decisions

    add_report_parser(sub)
    from server.cli.relay import add_relay_parser  # the outbox relay to NATS JetStream (docs/integrations.md)

    add_relay_parser(sub)
    from server.cli.imports import add_import_parser  # CSV and JSON Lines onboarding (docs/onboarding.md)

    add_import_parser(sub)
    from server.cli.webhooks import add_webhooks_parser  # webhook dead letters (docs/integrations.md)

    add_webhooks_parser(sub)
    add_rules_commands(sub, _client_flags, print_rpc_error)  # planner rules (docs/rules.md)
    add_exceptions_commands(sub, _client_flags, print_rpc_error)  # the exception queue, for people
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args, sys.stdout))
    except (UsageError, ConfigError) as error:
        print(f"oms-sourcing {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours. Point stdout at /dev/null so
        # the interpreter's final flush does not fail again, and exit as `head` pipelines expect.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
