"""Rule-set versions and activations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.errors import NotFoundError
from server.store.base import Store
from server.store.rule_sets import ACTIVATE, ROLLBACK, rule_set_store

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_save_activate_and_history(store: Store) -> None:
    rules = rule_set_store(store)
    assert rules.active_rule_set() is None
    rules.save_rule_set("v1", [("a.yaml", "rules: []\n")], AT)
    rules.save_rule_set("v1", [("a.yaml", "rules: []\n")], AT)  # idempotent
    rules.save_rule_set("v2", [("a.yaml", "rules: [x]"), ("b.yaml", "é")], AT)
    assert rules.get_rule_set("v2").files == (("a.yaml", "rules: [x]"), ("b.yaml", "é"))
    rules.activate_rule_set("v1", ACTIVATE, "ann", AT)
    rules.activate_rule_set("v2", ACTIVATE, "bob", AT)
    rules.activate_rule_set("v1", ROLLBACK, "ann", AT)
    active = rules.active_rule_set()
    assert active is not None and (active.seq, active.version, active.action) == (3, "v1", ROLLBACK)
    history = rules.rule_activations()
    assert [(a.version, a.activated_by) for a in history] == [("v1", "ann"), ("v2", "bob"), ("v1", "ann")]
    assert history[0].activated_at == AT


def test_activating_the_active_version_again_records_nothing(store: Store) -> None:
    rules = rule_set_store(store)
    rules.save_rule_set("v1", [("a.yaml", "rules: []\n")], AT)
    first = rules.activate_rule_set("v1", ACTIVATE, "ann", AT)
    again = rules.activate_rule_set("v1", ACTIVATE, "bob", AT.replace(hour=13))  # a retry, or a no-op
    assert again == first and len(rules.rule_activations()) == 1


def test_unknown_versions_are_refused(store: Store) -> None:
    rules = rule_set_store(store)
    with pytest.raises(NotFoundError):
        rules.activate_rule_set("nope", ACTIVATE, "ann", AT)
    with pytest.raises(NotFoundError):
        rules.get_rule_set("nope")
    assert rules.active_rule_set() is None
