"""RulesService: read, validate, activate and roll back planner rule sets (server.active_rules)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from engine import limits
from engine.errors import FieldViolation, InvalidInputError
from engine.rules.checks import Finding
from engine.rules.loader import file_name_problem
from engine.rules.problems import RuleError
from server.active_rules import ActiveRules, InvalidRuleSetError, validate
from server.api import convert
from server.api.proto import rules_pb2, rules_pb2_grpc
from server.api.services.deps import ServiceDeps
from server.caller import current_caller
from server.errors import NotFoundError
from server.store.rule_sets import ROLLBACK, Activation, RuleSetStore, rule_set_store

DEFAULT_HISTORY = 20
MAX_HISTORY = 500


def problem_to_proto(problem: RuleError | Finding) -> rules_pb2.RuleProblem:
    severity = problem.severity if isinstance(problem, Finding) else "error"
    return rules_pb2.RuleProblem(
        file=problem.file,
        line=problem.line,
        rule_id=problem.rule_id,
        field=problem.field,
        message=problem.message,
        severity=severity,
    )


def activation_to_proto(a: Activation) -> rules_pb2.RuleActivation:
    return rules_pb2.RuleActivation(
        seq=a.seq,
        version=a.version,
        action=a.action,
        activated_by=a.activated_by,
        activated_at=convert.timestamp_to_proto(a.activated_at),
    )


def _files(request_files: Sequence[rules_pb2.RuleFile]) -> list[tuple[str, str]]:
    """(name, text) of each file; INVALID_ARGUMENT on too many, too large, a name that is not a
    plain rule file name (engine.rules.loader.FILE_NAME_RULE) or one given twice."""
    c = convert.Collector()
    count = len(request_files)
    c.check(1 <= count <= limits.MAX_RULE_FILES, "files", f"must hold 1 to {limits.MAX_RULE_FILES} rule files")
    first: dict[str, int] = {}
    total = 0
    for i, f in enumerate(request_files[: limits.MAX_RULE_FILES]):
        problem = file_name_problem(f.name) if f.name else "is required"
        c.check(problem is None, f"files[{i}].name", problem or "")
        if problem is None and f.name in first:
            c.add(f"files[{i}].name", f"repeats files[{first[f.name]}].name {f.name!r}: names must differ")
        first.setdefault(f.name, i)
        size = len(f.content.encode())
        total += size
        c.check(
            size <= limits.MAX_RULE_FILE_BYTES,
            f"files[{i}].content",
            f"is {size:,} bytes, more than the limit of {limits.MAX_RULE_FILE_BYTES:,}",
        )
    c.check(
        total <= limits.MAX_RULE_SET_BYTES,
        "files",
        f"hold {total:,} bytes together, more than the limit of {limits.MAX_RULE_SET_BYTES:,}",
    )
    c.raise_if_any()
    return [(f.name, f.content) for f in request_files]


def _who(activated_by: str) -> str:
    """Who the history says activated: the name given, and the token's name when they differ (a
    name in the request is free text; the token is the credential that made the call)."""
    caller = current_caller()
    return f"{activated_by} (token {caller})" if caller and caller != activated_by else activated_by


def _check_who_and_version(activated_by: str | None, version: str) -> None:
    """Who (when the call records it) and the version named: ids, stored and looked up as they are."""
    c = convert.Collector()
    if activated_by is not None:
        convert.check_id(c, "activated_by", activated_by)
    convert.check_id(c, "version", version, required=False)
    c.raise_if_any()


def _invalid(error: InvalidRuleSetError) -> InvalidInputError:
    """Each problem as a field violation: field "files[NAME]:LINE FIELD", description with the rule id."""
    return InvalidInputError(
        [
            FieldViolation(
                f"files[{p.file}]:{p.line} {p.field}".strip(),
                f"rule {p.rule_id}: {p.message}" if p.rule_id else p.message,
            )
            for p in error.errors
        ]
    )


class RulesService(rules_pb2_grpc.RulesServiceServicer):  # type: ignore[misc]
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._rules: ActiveRules = deps.rules
        self._store: RuleSetStore = rule_set_store(deps.store)

    def GetRuleSet(
        self, request: rules_pb2.GetRuleSetRequest, context: grpc.ServicerContext
    ) -> rules_pb2.GetRuleSetResponse:
        c = convert.Collector()
        c.check(0 <= request.history_limit <= MAX_HISTORY, "history_limit", f"must be 0-{MAX_HISTORY}")
        convert.check_id(c, "version", request.version, required=False)
        c.raise_if_any()
        history = self._store.rule_activations(request.history_limit or DEFAULT_HISTORY)
        version = request.version or (history[0].version if history else "")
        if not version:
            raise NotFoundError("rule set", "active", "no rule set has been activated")
        stored = self._store.get_rule_set(version)
        try:
            rule_ids, problems = [r.id for r in validate(stored.files, None)[0].by_precedence()], []
        except InvalidRuleSetError as error:  # stored under older, looser checks: shown, not failed
            rule_ids, problems = [], [problem_to_proto(p) for p in error.errors]
        serving = self._rules.get()
        return rules_pb2.GetRuleSetResponse(
            version=version,
            files=[rules_pb2.RuleFile(name=n, content=t) for n, t in stored.files],
            rule_ids=rule_ids,
            history=[activation_to_proto(a) for a in history],
            serving_version=serving.version if serving is not None else "",
            errors=problems,
        )

    def ValidateRules(
        self, request: rules_pb2.ValidateRulesRequest, context: grpc.ServicerContext
    ) -> rules_pb2.ValidateRulesResponse:
        files = _files(request.files)
        try:
            rule_set, warnings = validate(files, self._deps.network.get())
        except InvalidRuleSetError as e:
            if e.over_limit:  # not a mistake among others: the request is refused
                raise _invalid(e) from None
            return rules_pb2.ValidateRulesResponse(valid=False, errors=[problem_to_proto(p) for p in e.errors])
        return rules_pb2.ValidateRulesResponse(
            valid=True,
            version=rule_set.version,
            warnings=[problem_to_proto(w) for w in warnings],
            rule_count=len(rule_set.rules),
        )

    def ActivateRules(
        self, request: rules_pb2.ActivateRulesRequest, context: grpc.ServicerContext
    ) -> rules_pb2.ActivateRulesResponse:
        files = _files(request.files)
        _check_who_and_version(request.activated_by, "")
        try:
            rule_set, activation, warnings = self._rules.activate(
                files, _who(request.activated_by), self._deps.network.get()
            )
        except InvalidRuleSetError as e:
            raise _invalid(e) from None
        return rules_pb2.ActivateRulesResponse(
            version=rule_set.version,
            activation=activation_to_proto(activation),
            warnings=[problem_to_proto(w) for w in warnings],
        )

    def RollbackRules(
        self, request: rules_pb2.RollbackRulesRequest, context: grpc.ServicerContext
    ) -> rules_pb2.RollbackRulesResponse:
        _check_who_and_version(request.activated_by, request.version)
        version = request.version
        if not version:
            history = self._store.rule_activations(MAX_HISTORY)
            if not history:
                raise NotFoundError("rule set", "active", "no rule set has been activated")
            earlier = [a.version for a in history if a.version != history[0].version]
            if not earlier:
                raise NotFoundError("rule set", "previous", "no earlier version to roll back to")
            version = earlier[0]
        stored = self._store.get_rule_set(version)
        try:
            validate(stored.files, None)  # a stored version loaded once; proven again before it serves
        except InvalidRuleSetError as e:
            raise _invalid(e) from None
        activation = self._store.activate_rule_set(version, ROLLBACK, _who(request.activated_by), self._deps.clock())
        self._rules.invalidate()
        return rules_pb2.RollbackRulesResponse(version=version, activation=activation_to_proto(activation))
