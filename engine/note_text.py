"""The words of a decision's explanations, built from plain values: one text for the general path
(engine/explain.py, over numpy arrays) and the small-order path (engine/small_orders/notes.py,
over lists), so the two cannot drift apart. Each builder takes what the sentence says, nothing
that needs a problem to work out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from engine.decision import NodeVerdict
from engine.directives import Protection
from engine.problem import Elimination
from engine.promise.shipping import many

MAX_NODE_NOTES = 25  # nearest nodes first; a decision over 2,000 nodes should not explain all of them
MAX_CAUSES = 4  # distinct causes named in one unfilled line's reason (nearest nodes first)
MAX_NAMED_NODES = 3  # node ids named per cause

ELIMINATION_VERDICT = {
    Elimination.CLOSED: NodeVerdict.CLOSED,
    Elimination.NO_CAPACITY: NodeVerdict.NO_CAPACITY,
    Elimination.EXCLUDED: NodeVerdict.EXCLUDED,
    Elimination.NOT_REQUIRED: NodeVerdict.NOT_REQUIRED,
    Elimination.NOT_PICKUP_NODE: NodeVerdict.NOT_REQUIRED,
    Elimination.PROTECTED: NodeVerdict.PROTECTED,
    Elimination.LATE: NodeVerdict.LATE,
}

NO_STOCK_DETAIL = "holds none of the ordered SKUs"


@dataclass(frozen=True)
class Cause:
    """Why one node cannot serve a line: ``{prefix}{nodes} {verb}`` in a reason, ``note`` alone."""

    prefix: str
    verb_one: str
    verb_many: str
    note: str


def _is(words: str) -> Cause:
    return Cause("", f"is {words}", f"are {words}", words)


# --- node notes ------------------------------------------------------------------------------


def used_detail(units: int, distance: float) -> str:
    return f"ships {units} units, {distance:.0f} mi"


def late_detail(delivery: str, late_days: int, per_day: float) -> str:
    """A used node's shipment that makes the order late (a rule allowing lateness): the penalty,
    which the order pays once, by its latest shipment."""
    days = "1 day" if late_days == 1 else f"{late_days} days"
    penalty = late_days * per_day
    return (
        f"delivers {delivery}, the order's latest: late by {days}: penalty {late_days} x {per_day:.2f}"
        f" = {penalty:.2f}, once for the order"
    )


def costlier_full_detail(zone: int, distance: float, extra: float) -> str:
    """Why an unused candidate that could fill the order alone lost: what that would add."""
    if zone:
        return f"zone {zone}, {distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"
    return f"{distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"


def costlier_partial_detail(zone: int, distance: float, serves: int, n_lines: int) -> str:
    """Why an unused candidate that holds only some lines lost."""
    if zone:
        return f"zone {zone}, {distance:.0f} mi: holds {serves} of {n_lines} lines; the chosen plan costs less"
    return f"{distance:.0f} mi: holds {serves} of {n_lines} lines; the chosen plan costs less"


# --- why a node is out -----------------------------------------------------------------------


def closed_cause(node_open: bool, pickup: bool) -> Cause:
    if not node_open:
        return Cause("", "is closed", "are closed", "node closed")
    if pickup:
        return Cause("", "does not take pickups", "do not take pickups", "does not take pickups")
    return Cause("", "does not ship orders", "do not ship orders", "does not ship orders")


def no_capacity_cause() -> Cause:
    words = "no shipment or unit capacity left today"
    return Cause("", f"has {words}", f"have {words}", words)


def excluded_cause(rule_id: str, reason: str, *, for_line: bool = False) -> Cause:
    if not rule_id:  # no rule's: a line's own promise the node cannot keep (engine/promise/per_line.py)
        return late_words_cause(reason)
    what = "excluded for this line" if for_line else "excluded"
    return _is(f"{what} by rule {rule_id}" + (f" ({reason})" if reason else ""))


def not_required_cause(rule_id: str, *, for_line: bool = False) -> Cause:
    if for_line:
        return _is(f"left out for this line by rule {rule_id}, which requires other nodes")
    return _is(f"left out by rule {rule_id}, which requires other nodes for this order")


def not_pickup_cause(pickup_node_id: str | None) -> Cause:
    return _is(f"not the pickup node ({pickup_node_id})")


def late_words_cause(words: str) -> Cause:
    """'would deliver Wed 9 Dec, after the promised Tue 8 Dec' (the carrier options' words)."""
    return Cause("", words, many(words), words)


def protected_cause(protections: Iterable[Protection]) -> Cause:
    kept = list(dict.fromkeys(f"{p.rule_id} ({p.units} unit{'' if p.units == 1 else 's'} kept)" for p in protections))
    rules = f"rule {kept[0]}" if len(kept) == 1 else f"rules {', '.join(kept[:-1])} and {kept[-1]}"
    return Cause("stock at ", f"is protected by {rules}", f"is protected by {rules}", f"stock protected by {rules}")


# Open, unprotected, allowed: only what other orders of a batch took leaves nothing there.
TAKEN_BY_OTHERS = Cause(
    "the stock at ",
    "is taken by other orders decided with this one",
    "is taken by other orders decided with this one",
    "taken by other orders decided with this one",
)


# --- unfilled lines --------------------------------------------------------------------------


def no_stock_reason(sku: str, pickup: str | None) -> str:
    return f"pickup node {pickup} has no {sku} available" if pickup is not None else f"no node has {sku} available"


def shortage_reason(supply: int, sku: str, protected: int, rules: Iterable[str]) -> str:
    reason = f"only {supply} units of {sku} can be promised at the nodes this line may ship from"
    if protected:
        reason += f"; {protected} more are protected by rule {', '.join(rules)}"
    return reason


def blocked_reason(groups: Mapping[Cause, Sequence[str]]) -> str:
    """Every node holding a line's SKU grouped by why it cannot serve the line, nearest first."""
    phrases = []
    for cause, node_ids in list(groups.items())[:MAX_CAUSES]:
        named = ", ".join(node_ids[:MAX_NAMED_NODES])
        if len(node_ids) > MAX_NAMED_NODES:
            named += f" and {len(node_ids) - MAX_NAMED_NODES} more"
        phrases.append(f"{cause.prefix}{named} {cause.verb_one if len(node_ids) == 1 else cause.verb_many}")
    left = sum(len(node_ids) for node_ids in list(groups.values())[MAX_CAUSES:])
    if left:
        phrases.append(f"{left} more nodes holding it cannot serve it either")
    return "; ".join(phrases)


def all_or_nothing_reason(short: Sequence[str]) -> str:
    """``short``: the lines that cannot be filled on their own account."""
    if short:
        return (
            f"all-or-nothing: line{'s' if len(short) > 1 else ''} {', '.join(short)} cannot be filled"
            " completely, so nothing ships"
        )
    return "all-or-nothing: the order cannot be filled completely within its limits"


def shipments_limit_reason(max_shipments: int) -> str:
    return f"the remaining stock is at other nodes and shipments are limited to {max_shipments}"


BACKORDER_CHEAPER = "shipping costs more per unit than the backorder penalty"
CAPACITY_OR_BACKORDER = "node capacity or a cheaper backorder than another shipment"
