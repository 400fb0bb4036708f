"""A batch of inventory updates applied in request order to the positions it touches, as
arithmetic on plain values: what each update did, what it would take past the bounds, and which
reserved units it leaves uncovered. Both the SQL store (on locked rows) and the memory store apply
batches through it, so the two judge a batch alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from engine import limits
from engine.errors import FieldViolation, InvalidInputError
from engine.model import InventoryPosition
from engine.orders.shortfall import Claim
from server.errors import (
    InvalidRequestError,
    NegativeStockError,
)
from server.store import rows
from server.store.base import (
    InventoryUpdate,
    ShortedHold,
    UpdateKind,
    UpdateOutcome,
)
from server.store.sql import Key


@dataclass(slots=True)
class WorkingPosition:
    """A locked inventory row while a batch is applied to it in memory."""

    on_hand: int
    reserved: int
    protected: int
    as_of: datetime | None
    changed: bool = False


@dataclass(slots=True)
class AppliedBatch:
    """A batch applied in memory: what each update did, and every position after all of them."""

    rows: dict[Key, WorkingPosition]
    outcomes: list[UpdateOutcome] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)  # updates that would take on hand below zero
    too_large: dict[int, int] = field(default_factory=dict)  # update index -> the on hand it would set, too much
    short: dict[int, int] = field(default_factory=dict)  # update index -> reserved units it left uncovered


def apply_in_order(
    updates: Sequence[InventoryUpdate], as_ofs: Sequence[datetime | None], locked: Mapping[Key, WorkingPosition]
) -> AppliedBatch:
    """Apply the updates in request order to copies of the locked rows: each is judged on the
    position the ones before it left (rows are locked, so this is not read-check-write)."""
    applied = AppliedBatch(rows={key: replace(row) for key, row in locked.items()})
    for index, (update, as_of) in enumerate(zip(updates, as_ofs, strict=True)):
        row = applied.rows[(update.sku, update.node_id)]
        if update.kind is UpdateKind.ABSOLUTE:
            assert as_of is not None  # checked_as_of guarantees it
            if row.as_of is not None and row.as_of > as_of:
                applied.outcomes.append(UpdateOutcome.STALE_IGNORED)
                continue
            target = update.quantity
        else:
            target = row.on_hand + update.quantity
            as_of = row.as_of
        if target < 0:
            # Keep going, so the error names every bad update at once; the batch is refused.
            applied.negative.append(index)
            continue
        if target > limits.MAX_INVENTORY_COUNT:  # deltas obey the bound absolute counts do
            applied.too_large[index] = target
            continue
        if target < row.reserved:
            # What the floor says wins: the reserved units it does not cover give way (_take_back).
            applied.short[index] = row.reserved - target
            row.reserved = target
        row.on_hand, row.as_of, row.changed = target, as_of, True
        applied.outcomes.append(UpdateOutcome.APPLIED)
    return applied


def deal_shortfalls(
    updates: Sequence[InventoryUpdate], short: Mapping[int, int], taken: Mapping[Key, Sequence[tuple[Claim, int]]]
) -> dict[int, tuple[ShortedHold, ...]]:
    """The holds taken back at each position, dealt to the updates that left it short, in request
    order (two counts of one position in one batch each report their own units)."""
    queues = {key: [(claim, units) for claim, units in pairs] for key, pairs in taken.items()}
    dealt: dict[int, tuple[ShortedHold, ...]] = {}
    for index in sorted(short):
        queue = queues[(updates[index].sku, updates[index].node_id)]
        holds: list[ShortedHold] = []
        need = short[index]
        while need > 0 and queue:
            claim, units = queue[0]
            used = min(units, need)
            holds.append(ShortedHold(claim.order_id, claim.line_id, used))
            need -= used
            queue[0] = (claim, units - used)
            if units == used:
                queue.pop(0)
        dealt[index] = tuple(holds)
    return dealt


def quantity_field(index: int, update: InventoryUpdate) -> str:
    """The request field holding the update's quantity, as the caller spelt it."""
    return f"updates[{index}].delta" if update.kind is UpdateKind.DELTA else f"updates[{index}].count.count"


def checked_as_of(index: int, update: InventoryUpdate) -> datetime | None:
    if update.as_of is not None:
        return rows.require_utc(update.as_of, f"updates[{index}].count.as_of")
    if update.kind is UpdateKind.ABSOLUTE:
        raise InvalidRequestError("is required for an ABSOLUTE count", f"updates[{index}].count.as_of")
    return None


def position_after(update: InventoryUpdate, row: WorkingPosition) -> InventoryPosition:
    return InventoryPosition(
        node_id=update.node_id,
        sku=update.sku,
        on_hand=row.on_hand,
        reserved=row.reserved,
        protected=row.protected,
        as_of=row.as_of,
    )


def raise_if_refused(updates: Sequence[InventoryUpdate], applied: AppliedBatch) -> None:
    """The batch is refused whole when any update would take on hand past the bounds."""
    if applied.too_large:
        raise InvalidInputError(
            [
                FieldViolation(
                    quantity_field(i, updates[i]),
                    f"would take on hand to {on_hand:,}, above {limits.MAX_INVENTORY_COUNT:,}"
                    " (the most an absolute count may set)",
                )
                for i, on_hand in applied.too_large.items()
            ]
        )
    if applied.negative:
        raise NegativeStockError(applied.negative, [quantity_field(i, updates[i]) for i in applied.negative])
