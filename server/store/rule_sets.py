"""Rule-set versions and their activation history: the store side (inherited by SqlStore).

A version's files are stored once, keyed by the content hash. Activating appends a row to
``rule_activations``; the active version is the latest row, so switching is one insert and
every worker sees it on its next poll of ``active_rule_set``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from server.errors import NotFoundError
from server.store.system_events import RULES_ACTIVATED, append_system_event

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")

ACTIVATE = "ACTIVATE"
ROLLBACK = "ROLLBACK"


@dataclass(frozen=True, slots=True)
class Activation:
    seq: int
    version: str
    action: str
    activated_by: str
    activated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRuleSet:
    version: str
    files: tuple[tuple[str, str], ...]  # (name, YAML text) in load order
    created_at: datetime


class RuleSetStoreMixin(ABC):
    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    def save_rule_set(self, version: str, files: Sequence[tuple[str, str]], at: datetime) -> None:
        """Store a version's files (a no-op when that version is stored already)."""
        payload = json.dumps([list(f) for f in files])
        self._write(
            lambda tx: tx.execute(
                "INSERT INTO rule_sets (version, files, created_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING",
                (version, payload, self._ts_in(at)),
            )
        )

    def get_rule_set(self, version: str) -> StoredRuleSet:
        found = self._read(
            lambda tx: tx.execute("SELECT version, files, created_at FROM rule_sets WHERE version = ?", (version,))
        )
        if not found:
            raise NotFoundError("rule set", version, f"rule set version {version!r} is not stored")
        v, files, created = found[0]
        at = self._ts_out(created)
        assert at is not None
        return StoredRuleSet(str(v), tuple((str(n), str(t)) for n, t in json.loads(files)), at)

    def activate_rule_set(self, version: str, action: str, by: str, at: datetime) -> Activation:
        """Make a stored version the active one; NotFoundError if it is not stored. The version
        active already is left so and its activation returned, nothing appended: a retried
        ActivateRules (the version is its files' hash) records nothing twice."""

        def work(tx: Tx) -> Activation:
            if not tx.execute("SELECT 1 FROM rule_sets WHERE version = ?", (version,)):
                raise NotFoundError("rule set", version, f"rule set version {version!r} is not stored")
            latest = tx.execute(
                "SELECT seq, version, action, activated_by, activated_at FROM rule_activations"
                " ORDER BY seq DESC LIMIT 1"
            )
            if latest and latest[0][1] == version:
                seq, _, done, who, when = latest[0]
                stamp = self._ts_out(when)
                assert stamp is not None
                return Activation(int(seq), version, str(done), str(who), stamp)
            seq = int(latest[0][0]) + 1 if latest else 1
            tx.execute(
                "INSERT INTO rule_activations (seq, version, action, activated_by, activated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (seq, version, action, by, self._ts_in(at)),
            )
            previous = str(latest[0][1]) if latest else None
            payload = {"version": version, "previous_version": previous, "action": action, "activated_by": by}
            append_system_event(tx, self._ts_in, RULES_ACTIVATED, {**payload, "activation_seq": seq}, at)
            return Activation(seq, version, action, by, at)

        return self._write(work)

    def rule_activations(self, limit: int = 50) -> list[Activation]:
        """The latest activations first; the first is the active version."""
        found = self._read(
            lambda tx: tx.execute(
                "SELECT seq, version, action, activated_by, activated_at FROM rule_activations"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
        )
        out = []
        for seq, version, action, by, at in found:
            when = self._ts_out(at)
            assert when is not None
            out.append(Activation(int(seq), str(version), str(action), str(by), when))
        return out

    def active_rule_set(self) -> Activation | None:
        """The active version (the latest activation), or None before the first; cheap enough to poll."""
        latest = self.rule_activations(1)
        return latest[0] if latest else None


class RuleSetStore(Protocol):
    """The rule-set part of the store (SqlStore has it; the port stays small for other callers)."""

    def save_rule_set(self, version: str, files: Sequence[tuple[str, str]], at: datetime) -> None: ...

    def get_rule_set(self, version: str) -> StoredRuleSet: ...

    def activate_rule_set(self, version: str, action: str, by: str, at: datetime) -> Activation: ...

    def rule_activations(self, limit: int = 50) -> list[Activation]: ...

    def active_rule_set(self) -> Activation | None: ...


def rule_set_store(store: object) -> RuleSetStore:
    """``store`` seen as a rule-set store (duck-typed: test wrappers delegate by attribute)."""
    if not all(hasattr(store, name) for name in ("save_rule_set", "activate_rule_set", "active_rule_set")):
        raise TypeError(f"{type(store).__name__} does not keep rule sets")
    return cast(RuleSetStore, store)
