"""``oms-sourcing webhooks``: the dead letters of webhook subscribers, listed and replayed.

``webhooks dead-letters`` lists the events a subscriber's receiver did not accept within its
retry budget (and those parked behind them); ``webhooks replay`` delivers them again, once each,
in event order, and marks those accepted. Both read the store and the subscribers from the
config file (``--config``, its ``[[webhooks]]`` tables); docs/integrations.md, "Webhooks".
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import TextIO, cast

from server.config import Config, ConfigError, load_config
from server.relay.webhooks import replay_dead_letters
from server.store.outbox import DeadLetter, OutboxStoreMixin


def _config(args: argparse.Namespace) -> Config:
    given = {"database_url": args.database}
    return load_config(given, dict(os.environ), args.config)


def _stamp(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _letter_json(letter: DeadLetter) -> dict[str, object]:
    return {
        "subscriber": letter.subscriber,
        "event_id": letter.event_id,
        "position": letter.event_seq,
        "order_id": letter.order_id or None,
        "type": letter.event_type,
        "attempts": letter.attempts,
        "last_error": letter.last_error,
        "dead_at": _stamp(letter.dead_at_ms),
        "replayed_at": _stamp(letter.replayed_at_ms) or None,
    }


def _open_store(config: Config) -> OutboxStoreMixin:
    from server.store import open_store

    store = open_store(config.database_url)
    store.migrate()
    return cast(OutboxStoreMixin, store)


def cmd_dead_letters(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    store = _open_store(config)
    try:
        letters = store.dead_letters(args.subscriber or "", include_replayed=args.all, limit=args.limit)
    finally:
        store.close()  # type: ignore[attr-defined]
    if args.json:
        for letter in letters:
            print(json.dumps(_letter_json(letter), sort_keys=True), file=out)
        return 0
    if not letters:
        print("no dead letters", file=out)
        return 0
    print("subscriber\tevent_id\torder_id\ttype\tattempts\tdead_at\treplayed_at\tlast_error", file=out)
    for x in letters:
        row = (x.subscriber, x.event_id, x.order_id, x.event_type, x.attempts, _stamp(x.dead_at_ms))
        print(*row, _stamp(x.replayed_at_ms), x.last_error, sep="\t", file=out)
    return 0


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    subscribers = {s.name: s for s in config.webhooks}
    if args.subscriber not in subscribers:
        known = ", ".join(sorted(subscribers)) or "none (no [[webhooks]] in --config)"
        raise ConfigError(f"--subscriber {args.subscriber!r} is not a configured subscriber; known: {known}")
    event_ids = set(args.event) if args.event else None
    store = _open_store(config)
    try:
        results = replay_dead_letters(store, subscribers[args.subscriber], event_ids, config.relay_prefix)
    finally:
        store.close()  # type: ignore[attr-defined]
    failed = 0
    for result in results:
        letter = result.letter
        outcome = "delivered" if result.error is None else f"not delivered: {result.error}"
        failed += result.error is not None
        print(f"{letter.subscriber}\t{letter.event_id}\t{letter.order_id}\t{letter.event_type}\t{outcome}", file=out)
    delivered = len(results) - failed
    print(f"{delivered} delivered, {failed} still dead", file=out)
    return 0 if failed == 0 else 1


def add_webhooks_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhooks = sub.add_parser(
        "webhooks",
        help="webhook dead letters: list and replay",
        description="Events a webhook subscriber did not accept within its retry budget (docs/integrations.md).",
    )
    commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    for name, run, text in (
        ("dead-letters", cmd_dead_letters, "list dead letters (open ones; --all: replayed ones too)"),
        ("replay", cmd_replay, "deliver a subscriber's dead letters again, in event order, once each"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", metavar="FILE", help="TOML settings file (database_url, [[webhooks]])")
        command.add_argument("--database", help="store URL (default: the settings' database_url)")
        if name == "dead-letters":
            command.add_argument("--subscriber", help="one subscriber's (default: every one's)")
            command.add_argument("--all", action="store_true", help="replayed ones too")
            command.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
            command.add_argument("--json", action="store_true", help="one JSON object a line")
        else:
            command.add_argument("--subscriber", required=True, help="the subscriber, by name")
            command.add_argument(
                "--event", type=int, action="append", metavar="ID", help="only this event id (repeatable)"
            )
        command.set_defaults(run=run)
