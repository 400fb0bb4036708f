"""RulesService over real gRPC, and every directive verb changing Source's decision as documented."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from server.active_rules import ActiveRules
from server.api.proto import common_pb2, network_pb2, rules_pb2, rules_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from server.store.base import Store
from server.store.rule_sets import rule_set_store
from tests.integration.conftest import Api, ServerFactory, make_config
from tests.integration.helpers import REPO, count, item, node, usd, violations

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)


@pytest.fixture
def stubs(api: Api) -> tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub]:
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0), tags=["local"]),
                node("FAR", location=common_pb2.GeoPoint(lat=30.0, lon=-95.0)),
            ]
        )
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A", unit_weight_lb=10.0), item("B")]))
    api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 5), count("FAR", "A", 5), count("FAR", "B", 5)])
    )
    return rules_pb2_grpc.RulesServiceStub(api.channel), sourcing_pb2_grpc.SourcingServiceStub(api.channel)


def _order(*lines: tuple[str, int], **fields: object) -> common_pb2.Order:
    return common_pb2.Order(
        order_id="O-1",
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
        **fields,  # type: ignore[arg-type]
    )


def _files(text: str) -> list[rules_pb2.RuleFile]:
    return [rules_pb2.RuleFile(name="planner.yaml", content=text)]


def _activate(rules: rules_pb2_grpc.RulesServiceStub, text: str) -> str:
    response = rules.ActivateRules(rules_pb2.ActivateRulesRequest(files=_files(text), activated_by="ann"))
    return str(response.version)


def _used(decision: sourcing_pb2.Decision) -> set[str]:
    return {a.node_id for a in decision.allocations}


def test_activate_validate_and_roll_back(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    rules, sourcing = stubs
    source = lambda: sourcing.Source(sourcing_pb2.SourceRequest(order=_order(("A", 2)))).decision  # noqa: E731
    before = source()
    assert before.rule_set_version == "" and _used(before) == {"NEAR"}
    assert [w for w in before.warnings if w.startswith("no active rule set")] == list(before.warnings)
    assert len(before.warnings) == 1  # a store without rules says so on every decision

    v1 = _activate(rules, "rules:\n  - {id: no-near, then: {exclude: {node: {id: NEAR}}}}\n")
    decision = source()
    assert (decision.rule_set_version, list(decision.fired_rules), _used(decision)) == (v1, ["no-near"], {"FAR"})
    assert not decision.warnings

    bad = "rules:\n  - {id: ok, then: {hold: x}}\n  - id: broken\n    then: {exclude: {node: {type: SHOP}}}\n"
    checked = rules.ValidateRules(rules_pb2.ValidateRulesRequest(files=_files(bad)))
    assert not checked.valid
    (problem,) = checked.errors
    assert (problem.file, problem.line, problem.rule_id, problem.field) == (
        "planner.yaml",
        4,
        "broken",
        "rules[1].then.exclude.node.type",
    )
    with pytest.raises(grpc.RpcError) as caught:
        _activate(rules, bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "files[planner.yaml]:4 rules[1].then.exclude.node.type" in violations(caught.value)
    assert source().rule_set_version == v1  # the invalid set never became active

    v2 = _activate(rules, "rules:\n  - {id: no-far, then: {exclude: {node: {id: FAR}}}}\n")
    assert source().rule_set_version == v2
    rolled = rules.RollbackRules(rules_pb2.RollbackRulesRequest(activated_by="bob"))
    assert rolled.version == v1 and rolled.activation.action == "ROLLBACK"
    assert source().rule_set_version == v1

    got = rules.GetRuleSet(rules_pb2.GetRuleSetRequest())
    assert got.version == v1 == got.serving_version and list(got.rule_ids) == ["no-near"]
    assert [(a.version, a.activated_by) for a in got.history] == [(v1, "bob"), (v2, "ann"), (v1, "ann")]


CONTRADICTIONS = """rules:
  - id: marketplace-from-dcs
    when: {order: {channel: MARKETPLACE}}
    then: {require: {node: {type: DC}}}
  - id: no-dcs-for-marketplace
    when: {order: {channel: MARKETPLACE}}
    then: {exclude: {node: {type: DC}, reason: the DCs are full}}
  - id: stores-only-and-never
    when: {customer: {tier: SILVER}}
    then: {require: {node: {type: STORE}}, exclude: {node: {type: STORE}}}
"""


def test_rules_that_leave_a_channel_or_a_tier_no_node_are_refused_with_their_fields(
    api: Api, stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub]
) -> None:
    rules, sourcing = stubs
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("SHOP", type=common_pb2.NODE_TYPE_STORE)]))
    active = _activate(rules, "rules:\n  - {id: fine, then: {hold: x}}\n")
    checked = rules.ValidateRules(rules_pb2.ValidateRulesRequest(files=_files(CONTRADICTIONS)))
    assert not checked.valid
    assert {(e.rule_id, e.field, e.line) for e in checked.errors} == {
        ("marketplace-from-dcs", "then.require[0]", 2),  # with the other rule: every marketplace order unservable
        ("stores-only-and-never", "then.require[0]", 8),  # requires and excludes the same nodes
    }
    with pytest.raises(grpc.RpcError) as caught:
        _activate(rules, CONTRADICTIONS)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert "no-dcs-for-marketplace excludes {type: DC}" in found["files[planner.yaml]:2 then.require[0]"]
    assert "customer.tier SILVER" in found["files[planner.yaml]:8 then.require[0]"]
    order = _order(("A", 1))
    assert sourcing.Source(sourcing_pb2.SourceRequest(order=order)).decision.rule_set_version == active


def test_rules_that_leave_some_orders_no_node_or_never_win_are_warnings(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    rules, _ = stubs
    text = """rules:
  - {id: web-local, when: {order: {channel: WEB}}, then: {exclude: {node: {not: {tag: local}}}}}
  - {id: gold-not-local, when: {customer: {tier: GOLD}}, then: {exclude: {node: {tag: local}}}}
  - {id: cheapest, priority: 300, then: {objective: {mode: COST}}}
  - {id: gold-fewest-boxes, when: {customer: {tier: GOLD}}, then: {objective: {mode: FEWEST_SHIPMENTS}}}
"""
    checked = rules.ValidateRules(rules_pb2.ValidateRulesRequest(files=_files(text)))
    assert checked.valid and not checked.errors
    assert {(w.rule_id, w.field) for w in checked.warnings} == {
        ("gold-not-local", "then.exclude[0]"),  # gold customers' web orders: no node
        ("gold-fewest-boxes", "then.objective.mode"),  # cheapest always fires with it and wins
    }
    assert _activate(rules, text)


def test_activating_the_same_files_again_is_a_no_op_so_retries_need_no_key(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    rules, _ = stubs
    request = rules_pb2.ActivateRulesRequest(
        files=_files("rules:\n  - {id: no-near, then: {exclude: {node: {id: NEAR}}}}\n"), activated_by="ann"
    )
    first = rules.ActivateRules(request)
    assert rules.ActivateRules(request) == first
    history = rules.GetRuleSet(rules_pb2.GetRuleSetRequest()).history
    assert [(a.seq, a.version, a.action) for a in history] == [(first.activation.seq, first.version, "ACTIVATE")]
    # A rollback naming its version is as safe to retry.
    v2 = _activate(rules, "rules:\n  - {id: no-far, then: {exclude: {node: {id: FAR}}}}\n")
    back = rules_pb2.RollbackRulesRequest(version=first.version, activated_by="bob")
    assert rules.RollbackRules(back) == rules.RollbackRules(back)
    got = rules.GetRuleSet(rules_pb2.GetRuleSetRequest())
    assert [a.version for a in got.history] == [first.version, v2, first.version]


def test_a_nul_in_who_or_which_version_is_named_not_internal(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    rules, _ = stubs
    text = "rules:\n  - {id: no-near, then: {exclude: {node: {id: NEAR}}}}\n"
    for call, field in [
        (
            lambda: rules.ActivateRules(rules_pb2.ActivateRulesRequest(files=_files(text), activated_by="a\x00")),
            "activated_by",
        ),
        (
            lambda: rules.ActivateRules(
                rules_pb2.ActivateRulesRequest(
                    files=[rules_pb2.RuleFile(name="p\x00.yaml", content=text)], activated_by="a"
                )
            ),
            "files[0].name",
        ),
        (lambda: rules.GetRuleSet(rules_pb2.GetRuleSetRequest(version="v\x00")), "version"),
        (lambda: rules.RollbackRules(rules_pb2.RollbackRulesRequest(version="v\x00", activated_by="a")), "version"),
        (lambda: rules.RollbackRules(rules_pb2.RollbackRulesRequest(activated_by="a\x00")), "activated_by"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, caught.value.details())
        assert "U+0000" in violations(caught.value).get(field, ""), field
    with pytest.raises(grpc.RpcError) as none:
        rules.GetRuleSet(rules_pb2.GetRuleSetRequest())
    assert none.value.code() == grpc.StatusCode.NOT_FOUND  # nothing was activated by any of them


def test_another_worker_switches_within_its_refresh(store: Store) -> None:
    clock = lambda: datetime(2026, 11, 24, tzinfo=UTC)  # noqa: E731
    mine = ActiveRules(rule_set_store(store), clock, refresh_seconds=0.0)
    other = ActiveRules(rule_set_store(store), clock, refresh_seconds=0.0)
    assert other.get() is None
    rule_set, _, _ = mine.activate([("a.yaml", "rules: [{id: x, then: {hold: y}}]")], "ann", None)
    served = other.get()
    assert served is not None and served.version == rule_set.version


VERBS = [
    ("exclude", "{exclude: {node: {id: NEAR}}}", [("A", 2)], lambda d: _used(d) == {"FAR"}),
    ("require", "{require: {node: {id: FAR}}}", [("A", 2)], lambda d: _used(d) == {"FAR"}),
    ("penalize", "{penalize: {node: {tag: local}, per_shipment: 100}}", [("A", 2)], lambda d: _used(d) == {"FAR"}),
    ("prefer", "{prefer: {node: {id: FAR}, per_shipment: 100}}", [("A", 2)], lambda d: _used(d) == {"FAR"}),
    ("protect", "{protect: {node: {id: NEAR}, units: 4}}", [("A", 2)], lambda d: _used(d) == {"FAR"}),
    ("limit", "{limit: {max_shipments: 1}}", [("A", 5), ("B", 1)], lambda d: _used(d) == {"FAR"}),
    ("objective", "{objective: {mode: FEWEST_SHIPMENTS}}", [("A", 5), ("B", 1)], lambda d: _used(d) == {"FAR"}),
    (
        "hold",
        "{hold: {reason: call the customer}}",
        [("A", 2)],
        lambda d: [h.reason for h in d.holds] == ["call the customer"],
    ),
]


@pytest.mark.parametrize(("verb", "then", "lines", "changed"), VERBS, ids=[v[0] for v in VERBS])
def test_every_verb_changes_the_decision_through_source(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
    verb: str,
    then: str,
    lines: list[tuple[str, int]],
    changed: object,
) -> None:
    rules, sourcing = stubs
    fields = {"split_penalty": usd(0)} if len(lines) > 1 else {}  # splitting is free: the baseline splits
    request = sourcing_pb2.SourceRequest(order=_order(*lines, **fields))
    base = sourcing.Source(request).decision
    assert not changed(base)  # type: ignore[operator]
    version = _activate(rules, f"rules:\n  - {{id: the-{verb}, then: {then}}}\n")
    after = sourcing.Source(request).decision
    assert changed(after), after  # type: ignore[operator]
    assert list(after.fired_rules) == [f"the-{verb}"] and after.rule_set_version == version


def test_rules_read_customer_address_and_order_value_from_the_request(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    rules, sourcing = stubs
    when = '{customer: {id: C-9}, ship_to: {country: CA, region: "ON"}, order: {value: {gte: 100}}}'
    _activate(rules, f"rules:\n  - {{id: big-canadian, when: {when}, then: {{hold: {{reason: check}}}}}}\n")
    address = common_pb2.PostalAddress(country_code="CA", region="ON", postal_code="M5V 3L9")

    def fired(price: float) -> list[str]:
        order = _order(("A", 2), customer_id="C-9", ship_to_address=address)
        order.lines[0].unit_price.CopyFrom(usd(price))
        return list(sourcing.Source(sourcing_pb2.SourceRequest(order=order)).decision.fired_rules)

    assert fired(50.0) == ["big-canadian"]  # 2 x 50 = 100
    assert fired(49.99) == []


def test_no_request_fails_or_mixes_versions_during_switches(
    stubs: tuple[rules_pb2_grpc.RulesServiceStub, sourcing_pb2_grpc.SourcingServiceStub],
) -> None:
    import threading

    rules, sourcing = stubs
    texts = [
        f"rules:\n  - {{id: v{i}, then: {{penalize: {{node: {{id: FAR}}, per_unit: {i + 1}}}}}}}\n" for i in range(2)
    ]
    versions = [_activate(rules, t) for t in texts]
    stop = threading.Event()
    seen: list[tuple[str, tuple[str, ...]]] = []
    errors: list[Exception] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                d = sourcing.Source(sourcing_pb2.SourceRequest(order=_order(("A", 1)))).decision
                seen.append((d.rule_set_version, tuple(d.fired_rules)))
            except grpc.RpcError as e:
                errors.append(e)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(10):
        _activate(rules, texts[i % 2])
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and len(seen) > 10
    # each decision's version and the rules it fired belong together: never a mix
    assert set(seen) <= {(versions[0], ("v0",)), (versions[1], ("v1",))}


def test_reload_from_files_activates_valid_files_only(store: Store, tmp_path: Path) -> None:
    from server.active_rules import reload_from_files

    clock = lambda: datetime(2026, 11, 24, tzinfo=UTC)  # noqa: E731
    rules = ActiveRules(rule_set_store(store), clock, refresh_seconds=0.0)
    path = tmp_path / "live.yaml"
    path.write_text("rules: [{id: a, then: {hold: x}}]\n")
    ok, _ = reload_from_files(rules, str(path), None, "signal:SIGHUP")
    served = rules.get()
    assert ok and served is not None and [r.id for r in served.rules] == ["a"]
    path.write_text("rules: [{id: b}]\n")
    ok, message = reload_from_files(rules, str(path), None, "signal:SIGHUP")
    assert not ok and "rules[0].then: is required" in message
    assert rules.get() is served
    assert [a.activated_by for a in rule_set_store(store).rule_activations()] == ["signal:SIGHUP"]


def test_a_server_without_an_active_rule_set_says_so_at_start(
    sqlite_store: Store, start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="server.api.app"):
        start_server(sqlite_store)
    assert any(r.levelno == logging.WARNING and "no active rule set" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="server.api.app"):
        start_server(sqlite_store, make_config(rules_path=str(REPO / "rules" / "default.yaml")))
    assert not [r for r in caplog.records if "no active rule set" in r.getMessage()]


def test_get_rule_set_shows_a_stored_set_that_no_longer_loads(api: Api) -> None:
    """A set stored before the limits became stricter (here: a file name the RPCs now refuse and an
    `in` list longer than durable-rules can hold) is shown with its errors, never INTERNAL."""
    values = ", ".join(f"C{i}" for i in range(600))
    files = [
        (
            "../old.yaml",
            "rules:\n  - {id: many, when: {order: {channel: {in: [" + values + "]}}}, then: {hold: {reason: x}}}\n",
        )
    ]
    rule_set_store(api.store).save_rule_set("oldversion", files, datetime(2026, 11, 1, tzinfo=UTC))
    rules = rules_pb2_grpc.RulesServiceStub(api.channel)
    got = rules.GetRuleSet(rules_pb2.GetRuleSetRequest(version="oldversion"))
    assert [(f.name, f.content) for f in got.files] == files
    assert not got.rule_ids and got.errors and all(e.severity == "error" for e in got.errors)
