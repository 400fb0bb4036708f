"""``oms-sourcing relay``: the outbox relay as a process of its own (docs/integrations.md).

It publishes the store's committed order events to NATS JetStream until SIGTERM/SIGINT, then
gives its lease up so another relay takes over at once. Several may run against one database:
one leads, the others wait for its lease to expire.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import TextIO

from prometheus_client import CollectorRegistry

from server.config import ConfigError, load_config
from server.logging import configure_logging
from server.metrics_http import serve_metrics
from server.relay.relay import RelaySettings
from server.runtime.integrations import run_integrations
from server.runtime.serve import stop_on_signals


def cmd_relay(args: argparse.Namespace, out: TextIO) -> int:
    given = {"database_url": args.database, "relay_nats_url": args.nats, "relay_prefix": args.prefix}
    config = load_config(given, dict(os.environ), args.config)
    configure_logging(config.log_format, config.log_level)
    if not config.relay_nats_url:
        raise ConfigError("relay needs a NATS server: --nats nats://HOST:4222 (or relay_nats_url in --config)")
    try:
        settings = RelaySettings(
            config.relay_nats_url,
            prefix=config.relay_prefix,
            batch=args.batch,
            lease_seconds=args.lease_seconds,
            position_seconds=args.position_seconds,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    from server.store import open_store

    stop = stop_on_signals()
    try:
        store = open_store(config.database_url)
        store.migrate()
    except Exception as error:  # a bad URL or an unreachable database: one line, no traceback
        print(f"oms-sourcing relay: error: cannot open the store: {error}", file=sys.stderr)
        return 1
    registry = CollectorRegistry()
    endpoint = serve_metrics(replace(config, metrics_port=args.metrics_port), registry, None)
    suffix = f"; metrics on {config.metrics_host}:{endpoint.port}" if endpoint else ""
    try:
        run_integrations(
            store, config, stop, registry, settings, lambda line: print(line + suffix, file=out, flush=True)
        )
    finally:
        if endpoint is not None:
            endpoint.close()
        store.close()
    return 0


def add_relay_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    relay = sub.add_parser(
        "relay",
        help="publish committed order events to NATS JetStream",
        description="Publish the store's committed order events to NATS JetStream (stream OMS_ORDERS, subjects "
        "oms.v1.orders.<event>), in order, each event id as Nats-Msg-Id, the position kept in the database, "
        "until SIGTERM/SIGINT. Several relays on one database: one publishes, the others wait "
        "(docs/integrations.md). serve runs the same relay with relay_nats_url set.",
    )
    relay.add_argument("--database", help="store URL (default: the settings' database_url)")
    relay.add_argument("--nats", metavar="URL", help="NATS server, nats://HOST:4222 (default: relay_nats_url)")
    relay.add_argument("--prefix", help="subject and stream prefix (default: relay_prefix, empty)")
    relay.add_argument(
        "--config",
        metavar="FILE",
        help="TOML settings file (database_url, relay_*, log_*; [[webhooks]] run here too)",
    )
    relay.add_argument("--batch", type=int, default=512, help="events read and published per round (default 512)")
    relay.add_argument(
        "--lease-seconds",
        type=float,
        default=10.0,
        help="lease time: another relay takes over this long after this one stops renewing (default 10)",
    )
    relay.add_argument(
        "--position-seconds",
        type=float,
        default=0.5,
        help="store the acknowledged position at most this often while events flow (default 0.5; a relay"
        " killed in between publishes that much again, deduplicated by JetStream)",
    )
    relay.add_argument(
        "--metrics-port", type=int, default=0, help="serve Prometheus /metrics on this port (default 0: none)"
    )
    relay.set_defaults(run=cmd_relay)
