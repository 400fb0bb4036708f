"""The integrations process: the outbox relay and the webhook dispatchers, beside the handlers.

``oms-sourcing relay`` runs it on its own; ``serve`` with ``relay_nats_url`` or ``[[webhooks]]``
starts it as a child process next to its handler processes (``server.runtime.workers``).

Why a process and not a thread in each server process: a thread shares the handlers' GIL, and
every small wait of its own (a database read, a broker ack) hands the GIL back and forth with the
handler threads, at the cost docs/decisions.md measured for GIL hand-offs; one process per server
group also means one relay polling the lease, not one per handler process, and a relay that
fails takes no handler with it (docs/integrations.md, "Speed").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

from prometheus_client import CollectorRegistry

from server.config import Config
from server.metrics import RelayMetrics, WebhookMetrics
from server.relay.relay import Relay, RelaySettings, run_relay
from server.relay.webhooks import start_webhook_threads
from server.store.base import Store
from server.store.outbox import OutboxStoreMixin


def integrations_wanted(config: Config) -> bool:
    """Whether ``serve`` needs an integrations process: a relay or a webhook subscriber is set."""
    return bool(config.relay_nats_url or config.webhooks)


def run_integrations(
    store: Store,
    config: Config,
    stop: threading.Event,
    registry: CollectorRegistry,
    relay_settings: RelaySettings | None,
    announce: Callable[[str], None] = lambda line: None,
) -> None:
    """Run the relay (when ``relay_settings``) and one dispatcher per webhook subscriber of
    ``config`` over ``store`` until ``stop`` is set; each gives its lease up on the way out."""
    outbox = cast(OutboxStoreMixin, store)
    webhooks = start_webhook_threads(
        outbox, config.webhooks, stop, WebhookMetrics(registry) if config.webhooks else None, config.relay_prefix
    )
    try:
        if relay_settings is not None:
            relay = Relay(outbox, relay_settings, RelayMetrics(registry))
            announce(f"relay {relay.holder} to {relay_settings.nats_url}")
            run_relay(relay, stop)
        else:
            announce(f"webhooks to {', '.join(w.name for w in config.webhooks)}")
            while not stop.wait(0.5):  # a timed wait keeps signals handled promptly
                pass
    finally:
        stop.set()
        for thread in webhooks:
            thread.join(timeout=10)  # a delivery under way finishes or times out first
