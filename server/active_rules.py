"""The active rule set of this worker, switched when the store's active version changes.

Every worker (and replica) compares the store's latest activation with the one it serves at
most once per ``refresh_seconds`` (like the network cache), so a switch reaches all of them
within about a second. A request reads the active rule set once, so no decision mixes two
versions; a new version is compiled (a fresh durable-rules ruleset) before it is swapped in,
and a version that fails to load is logged and never replaces the one serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from engine.directives import NO_DIRECTIVES, Directives
from engine.errors import SourcingError
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.rules import RuleSet, RuleSetError, compiled, evaluate, load_rule_set
from engine.rules.checks import Finding, check_rule_set
from engine.rules.loader import file_name_problem
from engine.rules.model import RETURNS
from engine.rules.problems import RuleError, RuleLimitError
from server.daily_shipments import DailyShipments
from server.deadline import check_deadline
from server.store.rule_sets import ACTIVATE, Activation, RuleSetStore

DEFAULT_REFRESH_SECONDS = 1.0
_log = logging.getLogger(__name__)


class InvalidRuleSetError(SourcingError, ValueError):
    """A rule set that fails validation: never stored as active. ``errors`` name file, line and field;
    ``over_limit``: the files break a limit (docs/rules.md, "Limits"), so they were not read to the end."""

    def __init__(self, errors: Sequence[RuleError | Finding], over_limit: bool = False) -> None:
        self.errors = tuple(errors)
        self.over_limit = over_limit
        super().__init__("\n".join(str(e) for e in self.errors))


def validate(files: Sequence[tuple[str, str]], snapshot: NetworkSnapshot | None) -> tuple[RuleSet, list[Finding]]:
    """The loaded set and its warnings; InvalidRuleSetError with every error otherwise.
    Between its steps, DeadlineExceeded once the call's deadline has passed: each step is
    bounded by the limits (about a second at most), but a caller may allow less."""
    check_deadline("reading the rule files")
    try:
        rule_set = load_rule_set(files)
    except RuleLimitError as e:
        raise InvalidRuleSetError(e.errors, over_limit=True) from None
    except RuleSetError as e:
        raise InvalidRuleSetError(e.errors) from None
    check_deadline("checking the rules against the network")
    findings = check_rule_set(rule_set, snapshot) if snapshot is not None else []
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise InvalidRuleSetError(errors)
    return rule_set, [f for f in findings if f.severity != "error"]


def _has_caps(rule_set: RuleSet) -> bool:
    return any(r.then.limit is not None and r.then.limit.max_shipments_per_day is not None for r in rule_set.rules)


class ActiveRules:
    def __init__(
        self,
        store: RuleSetStore,
        clock: Callable[[], datetime],
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        daily_shipments: DailyShipments | None = None,
    ) -> None:
        self._store = store
        self._daily = daily_shipments  # today's shipments per node, for daily capacity caps
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._rule_set: RuleSet | None = None
        self._seq = 0  # the activation served (0: none yet)
        self._checked_at = float("-inf")
        self._caps: tuple[RuleSet | None, bool] = (None, False)  # a rule set and whether it caps daily shipments

    def get(self) -> RuleSet | None:
        """The rule set to decide with now (None when none was ever activated)."""
        if time.monotonic() - self._checked_at < self._refresh_seconds:
            return self._rule_set
        with self._lock:
            if time.monotonic() - self._checked_at >= self._refresh_seconds:
                self._refresh()
                self._checked_at = time.monotonic()
            return self._rule_set

    def directives_for(self, order: Order, snapshot: NetworkSnapshot) -> Directives:
        rule_set = self.get()  # read once: this decision uses one version throughout
        if rule_set is None:
            return NO_DIRECTIVES
        now = self._clock()
        caps = self._caps
        if caps[0] is not rule_set:  # worked out once per rule set, not on every decision
            caps = self._caps = (rule_set, _has_caps(rule_set))
        shipments_today = self._daily.counts(now) if self._daily is not None and caps[1] else None
        return evaluate(rule_set, order, snapshot, now.date(), shipments_today)

    def return_directives_for(self, returned: Order, snapshot: NetworkSnapshot) -> Directives:
        """What the rules for returns say about receiving ``returned`` (the order's returned units)."""
        rule_set = self.get()
        if rule_set is None:
            return NO_DIRECTIVES
        return evaluate(rule_set, returned, snapshot, self._clock().date(), purpose=RETURNS)

    def activate(
        self, files: Sequence[tuple[str, str]], by: str, snapshot: NetworkSnapshot | None
    ) -> tuple[RuleSet, Activation, list[Finding]]:
        """Validate, store and activate ``files``; InvalidRuleSetError leaves the active set serving
        (DeadlineExceeded between steps too: the store's writes check the deadline themselves)."""
        rule_set, warnings = validate(files, snapshot)
        check_deadline("compiling the rules")
        rule_set = compiled(rule_set).rule_set  # registered before it is active; the canonical object
        now = self._clock()
        self._store.save_rule_set(rule_set.version, files, now)
        activation = self._store.activate_rule_set(rule_set.version, ACTIVATE, by, now)
        self.invalidate()
        return rule_set, activation, warnings

    def invalidate(self) -> None:
        """This process changed the activation: the next request re-checks the store."""
        with self._lock:
            self._checked_at = float("-inf")

    def _refresh(self) -> None:
        active = self._store.active_rule_set()
        if active is None or active.seq == self._seq:
            return
        current = self._rule_set
        if current is not None and current.version == active.version:
            self._seq = active.seq
            return
        try:
            stored = self._store.get_rule_set(active.version)
            rule_set = load_rule_set(stored.files)
            rule_set = compiled(rule_set).rule_set  # compiled before it serves; the canonical object
        except Exception as e:  # whatever fails, the set serving now keeps serving
            _log.error("rule set not switched", extra={"version": active.version, "error": str(e)})
            return
        self._rule_set, self._seq = rule_set, active.seq
        _log.info("rule set active", extra={"version": rule_set.version, "activation": active.seq})


def read_rule_files(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(path, text) of each file, in the order given (the order is part of the version).
    RuleSetError when a file's base name is not a rule file name or two files share one: a set is
    stored and shown under its files' base names (``stored_names``), so each must be one."""
    problems = []
    seen: set[str] = set()
    for path in paths:
        name = os.path.basename(path)
        problem = file_name_problem(name) or (f"shares its name {name!r} with another file" if name in seen else None)
        if problem is not None:
            problems.append(RuleError(path, 1, "", "name", problem))
        seen.add(name)
    if problems:
        raise RuleSetError(problems)
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            out.append((path, f.read()))
    return out


def stored_names(files: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Files read from paths, named as a set is stored and sent: by base name (checked by read_rule_files)."""
    return [(os.path.basename(path), text) for path, text in files]


def seed_rules(store: RuleSetStore, rules_path: str, by: str = "config:rules_path") -> Activation | None:
    """Activate the configured files when the store has no active rule set (InvalidRuleSetError if bad)."""
    if store.active_rule_set() is not None:
        return None
    files = stored_names(read_rule_files([p.strip() for p in rules_path.split(",") if p.strip()]))
    rule_set, _ = validate(files, None)
    now = datetime.now(UTC)
    store.save_rule_set(rule_set.version, files, now)
    return store.activate_rule_set(rule_set.version, ACTIVATE, by, now)


def reload_from_files(
    rules: ActiveRules, rules_path: str, snapshot: NetworkSnapshot | None, by: str
) -> tuple[bool, str]:
    """Validate and activate the files of ``rules_path`` (SIGHUP): whether it did, and what to log."""
    paths = [p.strip() for p in rules_path.split(",") if p.strip()]
    try:
        rule_set, activation, warnings = rules.activate(stored_names(read_rule_files(paths)), by, snapshot)
    except (InvalidRuleSetError, RuleSetError, OSError) as e:
        return False, f"rules not reloaded; the active set keeps serving: {e}"
    return True, f"rules reloaded: version {rule_set.version}, activation {activation.seq}, {len(warnings)} warnings"
