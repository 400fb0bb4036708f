"""Which holds give way when a position's stock no longer covers what orders reserved there.

A count is the truth from the floor: when it (or a negative delta) leaves fewer units on hand
than are reserved, the units that are not there cannot ship, so holds give back the difference
and their orders wait for those units again (healing or a person re-sources them). Pure: the
store reads the holds and applies what this decides in the same transaction.

The holds that give way are the reverse of the order backorders heal in (highest priority, then
oldest, first): lowest priority first, then newest; and holds not yet handed to fulfillment
before released ones, which a warehouse may already be picking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """One order line's hold at the short position."""

    order_id: str
    line_id: str
    qty: int
    released: bool  # handed to fulfillment: the warehouse may be picking it
    priority: int  # the order's priority (0-1,000)
    created_at: datetime  # when the order was created


def _giving_way_first(claim: Claim) -> tuple[bool, int, float, str, str]:
    # Newest first: the negated timestamp; ids last, so equal claims always give way in one order.
    return (claim.released, claim.priority, -claim.created_at.timestamp(), claim.order_id, claim.line_id)


def take_back(short: int, claims: Sequence[Claim]) -> list[tuple[Claim, int]]:
    """Units to take from each claim, ``short`` in all (or every unit the claims hold, if less),
    in the order they give way; claims that keep all their units are left out."""
    taken: list[tuple[Claim, int]] = []
    left = short
    for claim in sorted(claims, key=_giving_way_first):
        if left <= 0:
            break
        units = min(claim.qty, left)
        if units > 0:
            taken.append((claim, units))
            left -= units
    return taken
