"""What services are built from: one object, so adding a dependency never changes a signature."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.active_rules import ActiveRules
from server.api.decider import Decider, DecisionObserver
from server.api.item_cache import ItemCache
from server.api.network_cache import NetworkCache
from server.config import Config
from server.daily_shipments import DailyShipments
from server.pilot_scope import PilotScope
from server.served_area import ServedArea
from server.store.base import Store
from server.store.rule_sets import rule_set_store


def utc_now() -> datetime:
    return datetime.now(UTC)


def pilot_scope(config: Config) -> PilotScope:
    return PilotScope.parse(config.pilot_channels, config.pilot_skus, config.pilot_sku_prefixes)


@dataclass(frozen=True)
class ServiceDeps:
    config: Config
    store: Store
    network: NetworkCache  # the in-memory network snapshot; invalidated when nodes change
    decider: Decider  # the one way every service decides an order
    rules: ActiveRules  # the active planner rule set; the decider's directives come from it
    items: ItemCache  # catalogue items the decider reads; invalidated when items change
    clock: Callable[[], datetime] = utc_now
    # Set when the server starts shutting down: event streams and the sweeper end at once.
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(
        cls, config: Config, store: Store, *, observe: DecisionObserver | None = None, **overrides: Any
    ) -> ServiceDeps:
        """The production wiring; ``overrides`` replace single dependencies (tests); ``observe`` sees decisions."""
        values: dict[str, Any] = {
            "network": NetworkCache(store, config.currency),
            "items": ItemCache(store),
            **overrides,
        }
        if "rules" not in values:
            values["rules"] = ActiveRules(
                rule_set_store(store), values.get("clock", utc_now), daily_shipments=DailyShipments(store)
            )
        if "decider" not in values:
            values["decider"] = Decider(
                store,
                values["network"],
                config.currency,
                values["rules"].directives_for,
                observe=observe,
                items=values["items"],
                served=ServedArea.parse(config.served_regions),
                pilot=pilot_scope(config),
                clock=values.get("clock", utc_now),
            )
        return cls(config=config, store=store, **values)
