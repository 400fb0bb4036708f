"""What services are built from: one object, so adding a dependency never changes a signature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.config import Config
from server.decider import Decider
from server.network_cache import NetworkCache
from server.store.base import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceDeps:
    config: Config
    store: Store
    network: NetworkCache  # the in-memory network snapshot; invalidated when nodes change
    decider: Decider  # the one way every service decides an order
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def build(cls, config: Config, store: Store, **overrides: Any) -> ServiceDeps:
        """The production wiring; ``overrides`` replace single dependencies (tests)."""
        values: dict[str, Any] = {"network": NetworkCache(store, config.currency), **overrides}
        if "decider" not in values:
            values["decider"] = Decider(store, values["network"], config.currency)
        return cls(config=config, store=store, **values)
