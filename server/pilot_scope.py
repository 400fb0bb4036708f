"""The pilot scope: which channels and SKUs this service decides for (docs/configuration.md,
"The pilot scope"; docs/onboarding.md).

A rollout runs the service beside the legacy system one channel, or one SKU subset, at a time.
Orders and carts outside the scope are refused with FAILED_PRECONDITION naming the channel or SKU
(``OutsidePilotError``), never decided, so the caller routes them to the legacy system. An empty
setting scopes nothing: every channel, every SKU. SKUs are judged after aliases are resolved, so
a channel's SKU for a pilot item is in the pilot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.model import id_problem
from server.errors import OutsidePilotError


def _names(text: str, setting: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for name in names:
        problem = id_problem(name)
        if problem is not None:
            raise ValueError(f"{setting}: {name[:40]!r} {problem}")
    return names


@dataclass(frozen=True)
class PilotScope:
    channels: frozenset[str] = frozenset()  # empty: every channel
    skus: frozenset[str] = frozenset()  # with sku_prefixes; both empty: every SKU
    sku_prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, channels: str = "", skus: str = "", sku_prefixes: str = "") -> PilotScope:
        """From the settings (comma-separated); ValueError naming the setting when one is malformed."""
        return cls(
            frozenset(_names(channels, "pilot_channels")),
            frozenset(_names(skus, "pilot_skus")),
            _names(sku_prefixes, "pilot_sku_prefixes"),
        )

    @property
    def scopes_channels(self) -> bool:
        return bool(self.channels)

    @property
    def scopes_skus(self) -> bool:
        return bool(self.skus or self.sku_prefixes)

    @property
    def scopes_anything(self) -> bool:
        return self.scopes_channels or self.scopes_skus

    def covers_channel(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    def covers_sku(self, sku: str) -> bool:
        if not self.scopes_skus:
            return True
        return sku in self.skus or sku.startswith(self.sku_prefixes)

    def describe_channels(self) -> str:
        return ", ".join(sorted(self.channels)) or "every channel"

    def describe_skus(self) -> str:
        parts = sorted(self.skus)[:10] + [f"{p}*" for p in self.sku_prefixes[:10]]
        more = len(self.skus) + len(self.sku_prefixes) - len(parts)
        return ", ".join(parts) + (f" and {more} more" if more > 0 else "")

    def check(self, channel: str | None, skus: Sequence[tuple[str, str]], path: str = "order") -> None:
        """Raise OutsidePilotError naming every subject outside the scope. ``channel`` None: the
        request has none (a cart), so only SKUs are judged; ``skus``: (field path, catalogue SKU)."""
        outside: list[tuple[str, str, str]] = []
        if channel is not None and not self.covers_channel(channel):
            outside.append(
                (
                    f"{path}.channel" if path else "channel",
                    channel,
                    f"channel {channel[:60]!r} is outside the pilot (pilot_channels: {self.describe_channels()})",
                )
            )
        for field, sku in skus:
            if not self.covers_sku(sku):
                outside.append(
                    (field, sku, f"SKU {sku[:60]!r} is outside the pilot (pilot SKUs: {self.describe_skus()})")
                )
        if outside:
            raise OutsidePilotError(outside)


EVERYTHING = PilotScope()
