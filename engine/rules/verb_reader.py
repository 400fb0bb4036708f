"""Reading a rule's ``then``: each verb (exclude, require, penalize, prefer, protect, limit,
objective, hold) and the node selectors they name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from engine.model import NodeType, ObjectiveMode
from engine.rules.field_reader import FieldReader
from engine.rules.located import Located
from engine.rules.model import (
    ExcludeSpec,
    HoldSpec,
    LimitSpec,
    ObjectiveSpec,
    PenaltySpec,
    ProtectSpec,
    RequireSpec,
    Selector,
    Then,
)

NODE_TYPES = tuple(t.value for t in NodeType)
ID_REFERENCES = re.compile(
    r"^\$(order\.pickup_node_id|order\.attributes\.[A-Za-z0-9_.-]+|line\.attributes\.[A-Za-z0-9_.-]+)$"
)
VERBS = ("exclude", "require", "penalize", "prefer", "protect", "limit", "objective", "hold")
T = TypeVar("T")


# What a rule may set: not EARLIEST_DELIVERY, which needs the decision's instant (an order's own choice).
RULE_OBJECTIVES = tuple(m.value for m in ObjectiveMode if m is not ObjectiveMode.EARLIEST_DELIVERY)


class VerbReader(FieldReader):
    """The ``then`` part of a rule, verb by verb."""

    def then(self, node: Located, field: str) -> Then | None:
        verbs = self.mapping(node, field, VERBS)
        if verbs is None:
            return None
        if not verbs:
            self.error(node, field, f"needs at least one directive: {', '.join(VERBS)}")
            return None

        def get(verb: str, read: Callable[[Located, str], T | None]) -> list[T]:
            return self.one_or_many(verbs[verb], f"{field}.{verb}", read) if verb in verbs else []

        penalties = get("penalize", lambda n, f: self.penalty(n, f, 1.0)) + get(
            "prefer", lambda n, f: self.penalty(n, f, -1.0)
        )
        limits = get("limit", self.limit)
        objectives = get("objective", self.objective)
        holds = get("hold", self.hold)
        return Then(
            excludes=tuple(get("exclude", self.exclude)),
            requires=tuple(get("require", self.require)),
            penalties=tuple(penalties),
            protects=tuple(get("protect", self.protect)),
            limit=limits[0] if limits else None,
            objective=objectives[0] if objectives else None,
            hold=holds[0] if holds else None,
        )

    def node_of(self, parts: dict[str, Located], node: Located, field: str) -> Selector | None:
        if "node" not in parts:
            self.error(node, f"{field}.node", "is required (a node selector)")
            return None
        return self.selector(parts["node"], f"{field}.node")

    def exclude(self, node: Located, field: str) -> ExcludeSpec | None:
        parts = self.mapping(node, field, ("node", "reason"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        reason = self.text(parts["reason"], f"{field}.reason") if "reason" in parts else ""
        return None if selector is None or reason is None else ExcludeSpec(selector, reason)

    def require(self, node: Located, field: str) -> RequireSpec | None:
        parts = self.mapping(node, field, ("node",))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        return None if selector is None else RequireSpec(selector)

    def penalty(self, node: Located, field: str, sign: float) -> PenaltySpec | None:
        parts = self.mapping(node, field, ("node", "per_unit", "per_shipment"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        amounts = {
            k: self.number(parts[k], f"{field}.{k}", 0.0, 1e6) for k in ("per_unit", "per_shipment") if k in parts
        }
        if not amounts:
            self.error(node, field, "needs per_unit, per_shipment or both")
            return None
        if selector is None or any(v is None for v in amounts.values()):
            return None
        return PenaltySpec(
            selector, sign * (amounts.get("per_unit") or 0.0), sign * (amounts.get("per_shipment") or 0.0)
        )

    def protect(self, node: Located, field: str) -> ProtectSpec | None:
        parts = self.mapping(node, field, ("node", "units", "skus"))
        if parts is None:
            return None
        selector = self.node_of(parts, node, field)
        units = self.integer(parts["units"], f"{field}.units", 1) if "units" in parts else None
        if "units" not in parts:
            self.error(node, f"{field}.units", "is required")
        skus = self.texts(parts["skus"], f"{field}.skus") if "skus" in parts else ()
        if selector is None or units is None or skus is None:
            return None
        return ProtectSpec(selector, units, skus)

    def limit(self, node: Located, field: str) -> LimitSpec | None:
        parts = self.mapping(node, field, ("max_shipments", "all_or_nothing", "node", "max_shipments_per_day"))
        if parts is None:
            return None
        before = len(self.errors)
        max_shipments = (
            self.integer(parts["max_shipments"], f"{field}.max_shipments", 1) if "max_shipments" in parts else None
        )
        aon = self.boolean(parts["all_or_nothing"], f"{field}.all_or_nothing") if "all_or_nothing" in parts else False
        selector = self.selector(parts["node"], f"{field}.node") if "node" in parts else None
        per_day = None
        if "max_shipments_per_day" in parts:
            per_day = self.integer(parts["max_shipments_per_day"], f"{field}.max_shipments_per_day", 0)
        if ("node" in parts) != ("max_shipments_per_day" in parts):
            self.error(node, field, "a capacity cap needs both node and max_shipments_per_day")
        if not parts:
            self.error(node, field, "needs max_shipments, all_or_nothing or a capacity cap")
        if len(self.errors) > before:
            return None
        return LimitSpec(max_shipments, bool(aon), selector, per_day)

    def objective(self, node: Located, field: str) -> ObjectiveSpec | None:
        parts = self.mapping(node, field, ("mode", "split_penalty", "backorder_penalty", "late_penalty_per_day"))
        if parts is None:
            return None
        before = len(self.errors)
        mode = None
        if "mode" in parts:
            names = self.texts(parts["mode"], f"{field}.mode", RULE_OBJECTIVES)
            mode = ObjectiveMode(names[0]) if names else None
        split = (
            self.number(parts["split_penalty"], f"{field}.split_penalty", 0, 1e6) if "split_penalty" in parts else None
        )
        back = (
            self.number(parts["backorder_penalty"], f"{field}.backorder_penalty", 0, 1e6)
            if "backorder_penalty" in parts
            else None
        )
        late = (
            self.number(parts["late_penalty_per_day"], f"{field}.late_penalty_per_day", 0, 1e6)
            if "late_penalty_per_day" in parts
            else None
        )
        if not parts:
            self.error(node, field, "needs mode, split_penalty, backorder_penalty or late_penalty_per_day")
        return None if len(self.errors) > before else ObjectiveSpec(mode, split, back, late)

    def hold(self, node: Located, field: str) -> HoldSpec | None:
        if isinstance(node.value, str):
            return HoldSpec(node.value) if node.value else None
        parts = self.mapping(node, field, ("reason",))
        if parts is None:
            return None
        if "reason" not in parts:
            self.error(node, f"{field}.reason", "is required")
            return None
        reason = self.text(parts["reason"], f"{field}.reason")
        return None if reason is None else HoldSpec(reason)

    def selector(self, node: Located, field: str) -> Selector | None:
        parts = self.mapping(node, field, ("type", "tag", "id", "region", "distance", "not"))
        if parts is None:
            return None
        before = len(self.errors)
        values: dict[str, Any] = {}
        for key, name, allowed in (("type", "types", NODE_TYPES), ("tag", "tags", ()), ("region", "regions", ())):
            if key in parts:
                values[name] = self.texts(parts[key], f"{field}.{key}", allowed)
        if "id" in parts:
            ids = self.texts(parts["id"], f"{field}.id")
            for i, node_id in enumerate(ids or ()):
                if node_id.startswith("$") and not ID_REFERENCES.match(node_id):
                    self.error(
                        parts["id"],
                        f"{field}.id[{i}]",
                        f"unknown reference {node_id!r}; use $order.pickup_node_id, $order.attributes.KEY"
                        " or $line.attributes.KEY",
                    )
            values["ids"] = ids
        if "distance" in parts:
            band = self.mapping(parts["distance"], f"{field}.distance", ("min_miles", "max_miles")) or {}
            for key in ("min_miles", "max_miles"):
                if key in band:
                    values[key] = self.number(band[key], f"{field}.distance.{key}", 0.0, 30_000.0)
            if not band:
                self.error(parts["distance"], f"{field}.distance", "needs min_miles, max_miles or both")
        if "not" in parts:
            values["exclude"] = self.selector(parts["not"], f"{field}.not")
        if len(self.errors) > before:
            return None
        return Selector(**values)
