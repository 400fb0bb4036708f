"""``oms-sourcing rules ...``: the planners' loop on the command line.

Offline (files only): validate, test, show, diff. Against a running server (gRPC):
activate, rollback, status. Exit codes follow server/cli/main.py: 0 ok, 1 a check or call failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

import grpc

from engine.network import NetworkSnapshot
from engine.rules import RuleSetError, compiled, load_rule_set
from engine.rules.checks import check_rule_set
from engine.rules.loader import FORMAT
from engine.rules.model import Rule, RuleSet
from engine.rules.written import flow, rule_changes, rule_view
from server.active_rules import read_rule_files, stored_names
from server.api.proto import rules_pb2, rules_pb2_grpc
from server.cli.client import open_channel, security_from_args
from server.cli.rules_examples import example_files, run_example_file, summary
from server.network_file import NetworkFileError, read_network_file

DEFAULT_NETWORK = "data/sample-network.json"
DEFAULT_EXAMPLES = "rules/tests"

ClientFlags = Callable[[argparse.ArgumentParser, float], None]
ErrorPrinter = Callable[[grpc.RpcError, TextIO], None]


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        rule_set = load_rule_set(read_rule_files(args.files))
    except RuleSetError as e:
        for error in e.errors:
            print(f"{error}", file=out)
        print(f"invalid: {len(e.errors)} errors", file=out)
        return 1
    findings = []
    if args.network:
        try:
            network = read_network_file(args.network)
            snapshot = NetworkSnapshot(network.nodes, rate_tables=network.rate_tables_in_force)
        except (OSError, NetworkFileError) as e:
            print(f"cannot read network {args.network}: {e}", file=out)
            return 1
        today = date.fromisoformat(args.today) if args.today else date.today()
        findings = check_rule_set(rule_set, snapshot, today)
    for finding in findings:
        print(str(finding), file=out)
    errors = sum(f.severity == "error" for f in findings)
    verdict = "invalid" if errors else "valid"
    print(
        f"{verdict}: {len(rule_set.rules)} rules, version {rule_set.version}, "
        f"{errors} errors, {len(findings) - errors} warnings",
        file=out,
    )
    return 1 if errors else 0


def cmd_test(args: argparse.Namespace, out: TextIO) -> int:
    paths: list[Path] = []
    for given in args.examples or [DEFAULT_EXAMPLES]:
        p = Path(given)
        paths += example_files(p) if p.is_dir() else [p]
    if not paths:
        print("no example files found", file=out)
        return 1
    results = []
    for path in paths:
        try:
            results += run_example_file(path, args.rules or ())
        except RuleSetError as e:
            print(f"{path}: the rule files do not load:\n{e}", file=out)
            return 1
    print(summary(results), file=out)
    return 0 if all(r.ok for r in results) else 1


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    try:
        rule_set = load_rule_set(read_rule_files(args.files))
    except RuleSetError as e:
        print(str(e), file=out)
        return 1
    if args.compiled:
        print(compiled(rule_set).describe(), file=out)
        return 0
    print(show_rules(rule_set), file=out, end="")
    return 0


def show_rules(rule_set: RuleSet) -> str:
    """The set as one rule file in the planner's words (it loads back as the same rules), each rule
    under a comment naming the file and line it came from."""
    lines = [
        f"# {len(rule_set.rules)} rules from {', '.join(rule_set.sources)}, version {rule_set.version}",
        "# as loaded: defaults filled in (priority 100), scope conditions under when, a date window under active",
        f"format: {FORMAT}",
        f"currency: {rule_set.currency}",
    ]
    if rule_set.rates:
        lines.append(f"rates: {flow({code: _plain(rate) for code, rate in rule_set.rates.items()})}")
    lines.append("rules:")
    for rule in rule_set.rules:
        lines.append(f"# {rule.file}:{rule.line}")
        view = rule_view(rule)
        lines.append(f"- id: {flow(view.pop('id'))}")
        then = view.pop("then")
        lines += [f"  {key}: {flow(value)}" for key, value in view.items()]
        lines.append("  then:")
        lines += [f"    {verb}: {flow(value)}" for verb, value in then.items()]
    return "\n".join(lines) + "\n"


def _plain(number: float) -> float | int:
    return int(number) if number.is_integer() else number


def cmd_diff(args: argparse.Namespace, out: TextIO) -> int:
    try:
        a = load_rule_set(read_rule_files(args.a.split(",")))
        b = load_rule_set(read_rule_files(args.b.split(",")))
    except RuleSetError as e:
        print(str(e), file=out)
        return 1
    before = {r.id: r for r in a.rules}
    after = {r.id: r for r in b.rules}
    print(f"--- {args.a}  version {a.version}", file=out)
    print(f"+++ {args.b}  version {b.version}", file=out)
    changes = 0  # rules added, removed or changed
    for rule_id in sorted(before.keys() | after.keys()):
        old, new = before.get(rule_id), after.get(rule_id)
        if old is None and new is not None:
            print(f"+ {rule_id}: added {flow(_essence(new))}", file=out)
        elif new is None and old is not None:
            print(f"- {rule_id}: removed {flow(_essence(old))}", file=out)
        elif old is not None and new is not None and (fields := rule_changes(old, new)):
            for field in fields:
                print(f"~ {rule_id}: {field}", file=out)
        else:
            continue
        changes += 1
    settings = 0
    if a.currency != b.currency:
        print(f"~ currency: {a.currency} -> {b.currency}", file=out)
        settings += 1
    for code in sorted(a.rates.keys() | b.rates.keys()):
        old_rate, new_rate = a.rates.get(code), b.rates.get(code)
        if old_rate != new_rate:
            shown = [("none" if r is None else flow(_plain(r))) for r in (old_rate, new_rate)]
            print(f"~ rates.{code}: {shown[0]} -> {shown[1]}", file=out)
            settings += 1
    summary = f"{changes} rules differ" if changes else "no differences in rules"
    print(summary + (f"; {settings} currency or rate changes" if settings else ""), file=out)
    return 0


def _essence(rule: Rule) -> dict[str, object]:
    """What an added or removed rule does, on one line: its view without the id and the why."""
    return {k: v for k, v in rule_view(rule).items() if k not in ("id", "why")}


def _stub(args: argparse.Namespace) -> rules_pb2_grpc.RulesServiceStub:
    channel = open_channel(args.target, security_from_args(args, os.environ))
    return rules_pb2_grpc.RulesServiceStub(channel)  # type: ignore[no-untyped-call]


def _problems(problems: Sequence[rules_pb2.RuleProblem], out: TextIO) -> None:
    for p in problems:
        print(f"{p.file}:{p.line}: {p.severity}: rule {p.rule_id}: {p.field}: {p.message}", file=out)


def cmd_activate(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    try:
        named = stored_names(read_rule_files(args.files))  # a set is sent and stored by base names
    except RuleSetError as e:
        print(str(e), file=out)
        return 1
    files = [rules_pb2.RuleFile(name=n, content=t) for n, t in named]
    try:
        response = _stub(args).ActivateRules(
            rules_pb2.ActivateRulesRequest(files=files, activated_by=args.by), timeout=args.timeout
        )
    except grpc.RpcError as e:
        print_error(e, sys.stderr)
        return 1
    _problems(response.warnings, out)
    print(f"active: version {response.version} (activation {response.activation.seq} by {args.by})", file=out)
    return 0


def cmd_rollback(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    try:
        response = _stub(args).RollbackRules(
            rules_pb2.RollbackRulesRequest(version=args.version or "", activated_by=args.by), timeout=args.timeout
        )
    except grpc.RpcError as e:
        print_error(e, sys.stderr)
        return 1
    print(f"active: version {response.version} (rolled back, activation {response.activation.seq})", file=out)
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO, print_error: ErrorPrinter) -> int:
    try:
        response = _stub(args).GetRuleSet(rules_pb2.GetRuleSetRequest(history_limit=10), timeout=args.timeout)
    except grpc.RpcError as e:
        print_error(e, sys.stderr)
        return 1
    print(f"active: version {response.version}; this worker serves {response.serving_version or 'none'}", file=out)
    print(f"files: {', '.join(f.name for f in response.files)}; {len(response.rule_ids)} rules", file=out)
    for a in response.history:
        print(
            f"  #{a.seq} {a.action:<8} {a.version}  by {a.activated_by}  at {a.activated_at.ToJsonString()}", file=out
        )
    return 0


def add_rules_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    client_flags: ClientFlags,
    print_error: ErrorPrinter,
) -> None:
    rules = sub.add_parser(
        "rules",
        help="validate, test, show, diff, activate and roll back planner rules",
        description="The planners' loop: docs/rules.md and the README's Planners section.",
    )
    commands = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")

    validate = commands.add_parser("validate", help="check rule files (schema, network, contradictions)")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument(
        "--network", default=DEFAULT_NETWORK, help="network file to check node ids against ('' skips)"
    )
    validate.add_argument("--today", default="", help="date for 'can no longer fire' checks (default: today)")
    validate.set_defaults(run=cmd_validate)

    test = commands.add_parser("test", help="run example orders against rule files")
    test.add_argument("examples", nargs="*", metavar="EXAMPLES", help=f"files or folders (default {DEFAULT_EXAMPLES})")
    test.add_argument("--rules", nargs="+", metavar="FILE", help="rule files to test instead of those each names")
    test.set_defaults(run=cmd_test)

    show = commands.add_parser(
        "show",
        help="print the rules as loaded, in the rule-file format (id, why, priority, when, then)",
        description="Print the rule set as one rule file in the planner's words: every rule with the file and "
        "line it came from, defaults filled in. --compiled prints durable-rules' conditions instead.",
    )
    show.add_argument("files", nargs="+", metavar="FILE")
    show.add_argument("--compiled", action="store_true", help="the compiled view (durable-rules conditions)")
    show.set_defaults(run=cmd_show)

    diff = commands.add_parser(
        "diff", help="rules added, removed or changed between two versions, field by field (then.protect.units: 2 -> 3)"
    )
    diff.add_argument("a", metavar="A", help="rule file (or comma-separated files)")
    diff.add_argument("b", metavar="B", help="rule file (or comma-separated files)")
    diff.set_defaults(run=cmd_diff)

    activate = commands.add_parser("activate", help="validate and activate rule files on a running server")
    activate.add_argument("files", nargs="+", metavar="FILE")
    activate.add_argument("--by", required=True, help="who activates (kept in the history)")
    client_flags(activate, 30.0)
    activate.set_defaults(run=lambda a, out: cmd_activate(a, out, print_error))

    rollback = commands.add_parser("rollback", help="re-activate the previous (or a named) version")
    rollback.add_argument("--version", default="", help="version to re-activate (default: the previous one)")
    rollback.add_argument("--by", required=True, help="who rolls back (kept in the history)")
    client_flags(rollback, 30.0)
    rollback.set_defaults(run=lambda a, out: cmd_rollback(a, out, print_error))

    status = commands.add_parser("status", help="the active version and the activation history")
    client_flags(status, 10.0)
    status.set_defaults(run=lambda a, out: cmd_status(a, out, print_error))
