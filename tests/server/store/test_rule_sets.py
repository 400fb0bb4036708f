"""Rule-set versions and activations, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

import pytest

from server.errors import NotFoundError
from server.relay.messages import Destination, order_message
from server.store.base import Store
from server.store.outbox import OutboxEvent, OutboxStoreMixin
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
    assert [e.type for e in _outbox(store)] == ["RULES_ACTIVATED"]  # the retry appended no event


def test_each_activation_is_an_outbox_event_about_no_order(store: Store) -> None:
    rules = rule_set_store(store)
    rules.save_rule_set("v1", [("a.yaml", "rules: []\n")], AT)
    rules.save_rule_set("v2", [("a.yaml", "rules: [x]")], AT)
    rules.activate_rule_set("v1", ACTIVATE, "ann", AT)
    rules.activate_rule_set("v2", ACTIVATE, "bob", AT)
    with pytest.raises(NotFoundError):
        rules.activate_rule_set("nope", ACTIVATE, "ann", AT)  # rolled back: no event either
    events = _outbox(store)
    assert [(e.type, e.order_id, e.order_seq) for e in events] == [("RULES_ACTIVATED", "", 0)] * 2
    payloads = [json.loads(e.payload) for e in events]
    assert [(p["version"], p["previous_version"], p["activated_by"]) for p in payloads] == [
        ("v1", None, "ann"),
        ("v2", "v1", "bob"),
    ]
    message = order_message(Destination(), events[1])
    assert (message.subject, message.stream) == ("oms.v1.rules.activated", "OMS_OPERATIONS")


def _outbox(store: Store) -> list[OutboxEvent]:
    box = cast(OutboxStoreMixin, store)
    box.sequence_events()
    return box.outbox_after(0, 100)


def test_unknown_versions_are_refused(store: Store) -> None:
    rules = rule_set_store(store)
    with pytest.raises(NotFoundError):
        rules.activate_rule_set("nope", ACTIVATE, "ann", AT)
    with pytest.raises(NotFoundError):
        rules.get_rule_set("nope")
    assert rules.active_rule_set() is None
