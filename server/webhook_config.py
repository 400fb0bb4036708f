"""Webhook subscribers, as the config file declares them (``[[webhooks]]`` tables).

```toml
[[webhooks]]
name = "crm"                                  # the subscriber's id: its position, dead letters, metrics
url = "https://crm.example.com/oms-events"
secret_env = "CRM_WEBHOOK_SECRET"             # or secret = "..." (the file is then a secret itself)
event_types = ["SHIPPED", "CANCELLED"]        # and/or subjects = ["oms.v1.orders.>"]; neither: every event
```

A subscriber gets an event when its type is one of ``event_types`` or its subject (as the relay
publishes it, ``oms.v1.orders.shipped``) matches one of ``subjects`` (NATS wildcards: ``*`` one
token, ``>`` the rest); with neither, every event. Only the config file declares subscribers
(a list of tables has no flag or environment form); docs/integrations.md, "Webhooks".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

_NAME = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_TOKEN = re.compile(r"^(\*|>|[A-Za-z0-9_-]+)$")


@dataclass(frozen=True, slots=True)
class WebhookSubscriber:
    name: str
    url: str
    secret: str  # the HMAC-SHA256 key the receiver verifies signatures with
    event_types: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    timeout_seconds: float = 5.0  # one POST, connect to answer
    max_attempts: int = 10  # then the event goes to the dead letters
    backoff_min_seconds: float = 0.5  # the first retry's wait; doubles, with jitter, up to the max
    backoff_max_seconds: float = 60.0
    from_beginning: bool = False  # a new subscriber gets the outbox's whole history, not only what comes next

    def wants(self, event_type: str, subject: str) -> bool:
        if not self.event_types and not self.subjects:
            return True
        return event_type in self.event_types or any(subject_matches(p, subject) for p in self.subjects)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` (last) one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


_DEFAULTS = {f.name: f.default for f in fields(WebhookSubscriber)}
_KEYS = {f.name for f in fields(WebhookSubscriber)} - {"secret"} | {"secret", "secret_env"}


def parse_subscribers(tables: object, env: Mapping[str, str] | None = None) -> tuple[WebhookSubscriber, ...]:
    """The ``webhooks`` array of tables, checked; ValueError naming ``webhooks[i].field``."""
    env = os.environ if env is None else env
    if not isinstance(tables, list):
        raise ValueError("webhooks must be an array of tables ([[webhooks]])")
    out: list[WebhookSubscriber] = []
    for i, table in enumerate(tables):
        where = f"webhooks[{i}]"
        if not isinstance(table, dict):
            raise ValueError(f"{where} must be a table")
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}")
        out.append(_subscriber(where, table, env))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError("webhooks: each name once")
    return tuple(out)


def _subscriber(where: str, table: Mapping[str, Any], env: Mapping[str, str]) -> WebhookSubscriber:
    def text(key: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise ValueError(f"{where}.{key} is required (a string)")
        return value

    def number(key: str, low: float, high: float) -> float:
        value = table.get(key, _DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"{where}.{key} must be a number from {low:g} to {high:g}")
        return float(value)

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise ValueError(f"{where}.{key} must be a list of strings")
        return tuple(value)

    name = text("name")
    if not _NAME.match(name) or len(name) > 64:
        raise ValueError(f"{where}.name must be lower-case letters and digits, words joined by - or _")
    url = text("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}.url must be an http:// or https:// URL")
    if ("secret" in table) == ("secret_env" in table):
        raise ValueError(f"{where}: give secret or secret_env (one of them)")
    secret = text("secret") if "secret" in table else env.get(text("secret_env"), "")
    if len(secret) < 16:
        raise ValueError(f"{where}: the secret must be at least 16 characters (secret_env unset or short?)")
    subjects = strings("subjects")
    for pattern in subjects:
        tokens = pattern.split(".")
        if not all(_TOKEN.match(t) for t in tokens) or ">" in tokens[:-1]:
            raise ValueError(f"{where}.subjects: {pattern!r} is not a subject pattern")
    from_beginning = table.get("from_beginning", False)
    if not isinstance(from_beginning, bool):
        raise ValueError(f"{where}.from_beginning must be true or false")
    low_backoff = number("backoff_min_seconds", 0.001, 3600)
    return WebhookSubscriber(
        name=name,
        url=url,
        secret=secret,
        event_types=strings("event_types"),
        subjects=subjects,
        timeout_seconds=number("timeout_seconds", 0.05, 300),
        max_attempts=int(number("max_attempts", 1, 100)),
        backoff_min_seconds=low_backoff,
        backoff_max_seconds=max(low_backoff, number("backoff_max_seconds", 0.001, 86_400)),
        from_beginning=from_beginning,
    )
