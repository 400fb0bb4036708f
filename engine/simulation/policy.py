"""Decision settings a side can vary without writing rules: split and backorder penalties, max shipments.

``--set split_penalty=6`` (or ``--compare-set``) applies on top of the side's rules: a penalty
given here replaces the rules' and the network default; ``max_shipments`` takes the strictest
of the rules' limit and this one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.directives import Directives
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.simulation.replay import DirectivesFor

SETTINGS = ("split_penalty", "backorder_penalty", "max_shipments")


@dataclass(frozen=True, slots=True)
class Policy:
    split_penalty: float | None = None
    backorder_penalty: float | None = None
    max_shipments: int | None = None

    def is_default(self) -> bool:
        return self == Policy()

    def describe(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in dataclasses.asdict(self).items() if v is not None)


def parse_policy(pairs: Sequence[str]) -> Policy:
    """``["split_penalty=6", "max_shipments=1"]`` -> Policy; ValueError names the bad pair."""
    values: dict[str, float | int] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or key not in SETTINGS:
            raise ValueError(f"{pair!r}: expected KEY=VALUE with KEY one of {', '.join(SETTINGS)}")
        try:
            value = int(raw) if key == "max_shipments" else float(raw)
        except ValueError:
            raise ValueError(f"{pair!r}: {raw!r} is not a number") from None
        if value < (1 if key == "max_shipments" else 0):
            raise ValueError(f"{pair!r}: must be {'at least 1' if key == 'max_shipments' else '>= 0'}")
        values[key] = value
    return Policy(**values)  # type: ignore[arg-type]


def apply_policy(directives: Directives, policy: Policy) -> Directives:
    if policy.is_default():
        return directives
    limits = [m for m in (directives.max_shipments, policy.max_shipments) if m is not None]
    return dataclasses.replace(
        directives,
        split_penalty=policy.split_penalty if policy.split_penalty is not None else directives.split_penalty,
        backorder_penalty=(
            policy.backorder_penalty if policy.backorder_penalty is not None else directives.backorder_penalty
        ),
        max_shipments=min(limits) if limits else None,
    )


class WithPolicy:
    """A DirectivesFor that applies ``policy`` after ``inner``."""

    def __init__(self, inner: DirectivesFor, policy: Policy) -> None:
        self.inner = inner
        self.policy = policy

    def __call__(
        self, order: Order, snapshot: NetworkSnapshot, decided_at: datetime, shipments_today: Mapping[str, int]
    ) -> Directives:
        return apply_policy(self.inner(order, snapshot, decided_at, shipments_today), self.policy)
