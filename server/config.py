"""Server configuration: one frozen dataclass, four sources.

Precedence, highest first: command-line flags > environment variables ``OMS_SOURCING_<FIELD>``
> the TOML file given with ``--config`` > the defaults below. The TOML file is flat (``port =
50051``) but for its ``[[webhooks]]`` tables (server/webhook_config.py, file only); an unknown
key anywhere is an error, so a typo never silently falls back to a default.
docs/configuration.md documents every setting; keep the two in step.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.errors import SourcingError
from server.pilot_scope import PilotScope
from server.served_area import DEFAULT_SERVED_REGIONS, ServedArea
from server.webhook_config import WebhookSubscriber, parse_subscribers

ENV_PREFIX = "OMS_SOURCING_"
# Addresses only this machine reaches: binding them needs no authentication.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(SourcingError, ValueError):
    """A setting is malformed or out of range; the message names the setting and its source."""


def _setting(default: Any, help: str, flag: str = "", choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices})


@dataclass(frozen=True, slots=True)
class Config:
    host: str = _setting("127.0.0.1", "address the gRPC server binds (0.0.0.0 or [::] for every interface)")
    port: int = _setting(50051, "gRPC port; 0 picks a free one (single worker only), printed at start")
    database_url: str = _setting(
        "sqlite:///var/oms-sourcing.db", "store URL: sqlite:///PATH or postgresql://...", flag="--database"
    )
    workers: int = _setting(1, "server processes sharing the port (SO_REUSEPORT), 1-64")
    threads: int = _setting(
        2, "handler threads per process: 2 for one unpinned process, 4 pinned or one per core (docs/decisions.md)"
    )
    pin_cpus: bool = _setting(
        False,
        "pin each server process to one CPU (worker i to the i-th usable CPU), so its threads hand the GIL"
        " over on one core: more Source calls on less CPU for one process, no difference measured for one per"
        " core (docs/decisions.md); Linux only",
    )
    max_concurrent_rpcs: int = _setting(
        64, "business RPCs held per process (queued or running); beyond it RESOURCE_EXHAUSTED, health exempt"
    )
    max_streams: int = _setting(
        16, "WatchEvents streams open per process, each on a thread of its own; beyond it RESOURCE_EXHAUSTED"
    )
    grace_seconds: float = _setting(10.0, "on SIGTERM/SIGINT, how long in-flight RPCs may take to finish")
    max_connection_age_seconds: float = _setting(
        0.0,
        "after about this long, send each client connection's new calls to a new connection (running calls"
        " finish) so SO_REUSEPORT deals connections over the workers again; 0 keeps connections",
    )
    max_message_bytes: int = _setting(4 * 1024 * 1024, "largest request or response message in bytes")
    reflection: bool = _setting(False, "serve gRPC server reflection (on in development, off in production)")
    metrics_host: str = _setting(
        "127.0.0.1", "address the Prometheus /metrics endpoint binds (beyond loopback: see metrics_tls_*)"
    )
    metrics_port: int = _setting(9464, "Prometheus /metrics HTTP port; 0 disables metrics")
    metrics_tls_cert_file: str = _setting(
        "", "PEM certificate chain the /metrics endpoint presents; with metrics_tls_key_file, HTTPS only"
    )
    metrics_tls_key_file: str = _setting("", "PEM private key of metrics_tls_cert_file")
    metrics_tls_client_ca_file: str = _setting(
        "", "PEM CA bundle: every scraper must present a client certificate it signed (mutual TLS; empty: none)"
    )
    log_format: str = _setting("text", "log lines as key=value text or JSON", choices=("text", "json"))
    log_level: str = _setting(
        "INFO", "least severe level logged", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    )
    currency: str = _setting("USD", "ISO 4217 currency of every Money on the wire")
    sample_network: str = _setting("data/sample-network.json", "network file --load-sample-if-empty loads")
    load_sample_if_empty: bool = _setting(False, "load sample_network into an empty store before SERVING")
    solver_time_limit_ms: int = _setting(2000, "longest the optimizer may run per decision, in milliseconds")
    sweep_interval_seconds: float = _setting(
        5.0, "how often a background thread deletes expired holds and records EXPIRED; 0 disables it"
    )
    request_key_retention_hours: float = _setting(
        72.0,
        "how long a request key and its stored response are kept for replays; the sweeper deletes older"
        " ones, so retries must come within it; 0 keeps them forever",
    )
    served_regions: str = _setting(
        DEFAULT_SERVED_REGIONS,
        "regions new orders may ship to, comma-separated (US-CONTIGUOUS, US-AK, US-HI, US-PR), or ANY;"
        " a ship-to elsewhere is INVALID_ARGUMENT (docs/configuration.md)",
    )
    pilot_channels: str = _setting(
        "",
        "channels this service decides for, comma-separated; an order of another channel is"
        " FAILED_PRECONDITION (docs/configuration.md, the pilot scope); empty: every channel",
    )
    pilot_skus: str = _setting(
        "",
        "SKUs this service decides for, comma-separated (with pilot_sku_prefixes); an order or cart with"
        " another SKU is FAILED_PRECONDITION; both empty: every SKU",
    )
    pilot_sku_prefixes: str = _setting(
        "", "SKU prefixes this service decides for, comma-separated (HOM-,ACC-); see pilot_skus"
    )
    rules_path: str = _setting("", "rule files (comma-separated) activated at start when the store has none active")
    tls_cert_file: str = _setting(
        "", "PEM certificate chain the server presents; with tls_key_file, serve TLS only (empty: plaintext)"
    )
    tls_key_file: str = _setting("", "PEM private key of tls_cert_file")
    tls_client_ca_file: str = _setting(
        "", "PEM CA bundle for mutual TLS: every client must present a certificate it signed (empty: none asked)"
    )
    relay_nats_url: str = _setting(
        "",
        "NATS server (nats://host:4222) to run the outbox relay against, in a process serve starts beside its"
        " handlers: committed order events to JetStream, one relay leading across servers (docs/integrations.md);"
        " empty: no relay",
        flag="--relay-nats",
    )
    relay_prefix: str = _setting(
        "", "prefix of the relay's subjects (PREFIX.oms.v1...) and streams (PREFIX_OMS_...); empty: none"
    )
    shipments_intake: bool = _setting(
        False,
        "apply shipment confirmations a WMS publishes to JetStream (PREFIX.oms.v1.shipments.confirm) with"
        " relay_nats_url's server, idempotently by request key (docs/integrations.md)",
    )
    # Only from the config file's [[webhooks]] tables: no flag, no environment variable.
    webhooks: tuple[WebhookSubscriber, ...] = field(
        default=(), metadata={"help": "webhook subscribers ([[webhooks]] tables)", "file_only": True}
    )
    auth_tokens_file: str = _setting(
        "",
        "file of 'ROLE NAME SHA256-HEX' lines (oms-sourcing new-token writes them): every call but health"
        " needs a bearer token of a role its method allows (empty: no authentication)",
    )

    def __post_init__(self) -> None:
        problems = [
            f"{name} {message}"
            for name, ok, message in (
                ("port", 0 <= self.port <= 65535, "must be 0-65535"),
                ("metrics_port", 0 <= self.metrics_port <= 65535, "must be 0-65535"),
                ("workers", 1 <= self.workers <= 64, "must be 1-64"),
                ("threads", 1 <= self.threads <= 256, "must be 1-256"),
                ("max_concurrent_rpcs", 1 <= self.max_concurrent_rpcs <= 100_000, "must be 1-100000"),
                ("max_streams", 1 <= self.max_streams <= 10_000, "must be 1-10000"),
                ("grace_seconds", 0 <= self.grace_seconds <= 3600, "must be 0-3600"),
                ("max_connection_age_seconds", 0 <= self.max_connection_age_seconds <= 86_400, "must be 0-86400"),
                ("max_message_bytes", 1024 <= self.max_message_bytes <= 1 << 30, "must be 1 KiB-1 GiB"),
                ("solver_time_limit_ms", 1 <= self.solver_time_limit_ms <= 600_000, "must be 1-600000"),
                ("sweep_interval_seconds", 0 <= self.sweep_interval_seconds <= 86_400, "must be 0-86400"),
                (
                    "request_key_retention_hours",
                    0 <= self.request_key_retention_hours <= 87_600,
                    "must be 0-87600 (ten years)",
                ),
                ("database_url", bool(self.database_url), "is required"),
                ("currency", len(self.currency) == 3 and self.currency.isalpha(), "must be an ISO 4217 code"),
                ("tls_key_file", bool(self.tls_cert_file) == bool(self.tls_key_file), "and tls_cert_file go together"),
                ("tls_client_ca_file", not self.tls_client_ca_file or bool(self.tls_cert_file), "needs tls_cert_file"),
                (
                    "metrics_tls_key_file",
                    bool(self.metrics_tls_cert_file) == bool(self.metrics_tls_key_file),
                    "and metrics_tls_cert_file go together",
                ),
                (
                    "metrics_tls_client_ca_file",
                    not self.metrics_tls_client_ca_file or bool(self.metrics_tls_cert_file),
                    "needs metrics_tls_cert_file",
                ),
            )
            if not ok
        ]
        if self.relay_nats_url and not self.relay_nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
            problems.append("relay_nats_url must start with nats://, tls://, ws:// or wss://")
        if self.shipments_intake and not self.relay_nats_url:
            problems.append("shipments_intake needs relay_nats_url (the NATS server it reads from)")
        if self.relay_prefix and not re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", self.relay_prefix):
            problems.append("relay_prefix must be lower-case letters and digits, words joined by - or _")
        try:
            ServedArea.parse(self.served_regions)
        except ValueError as error:
            problems.append(f"served_regions {error}")
        try:
            PilotScope.parse(self.pilot_channels, self.pilot_skus, self.pilot_sku_prefixes)
        except ValueError as error:
            problems.append(str(error))
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                problems.append(f"{f.name} must be one of {', '.join(choices)}")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def _coerce(name: str, kind: type, value: object, source: str) -> object:
    """``value`` as the field's type; strings (from the environment) are parsed."""
    try:
        if isinstance(value, str) and kind is not str:
            text = value.strip()
            if kind is bool:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError("expected true or false")
                return text.lower() in _TRUE
            return int(text) if kind is int else float(text)
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    except ValueError as error:
        raise ConfigError(f"{name} from {source}: {value!r} is not valid ({error})") from None
    raise ConfigError(f"{name} from {source}: {value!r} is not a {kind.__name__}")


_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _field_types() -> dict[str, type]:
    return {f.name: _TYPES[str(f.type)] for f in _scalar_fields()}


def _scalar_fields() -> list[Any]:
    """The settings with a flag and an environment variable (all but the file's tables)."""
    return [f for f in fields(Config) if not f.metadata.get("file_only")]


def read_toml(path: str | Path) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: {error}") from None
    return data


def load_config(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Config:
    """Merge the sources in precedence order; ``flags`` holds only the flags actually given."""
    types = _field_types()
    values: dict[str, object] = {}
    if config_file:
        for key, value in read_toml(config_file).items():
            if key == "webhooks":
                try:
                    values[key] = parse_subscribers(value)
                except ValueError as error:
                    raise ConfigError(f"config file {config_file}: {error}") from None
                continue
            if key not in types:
                raise ConfigError(f"config file {config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, types[key], value, f"config file {config_file}")
    for key, value in (env or {}).items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in types:
                values[name] = _coerce(name, types[name], value, f"environment variable {key}")
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in types:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = _coerce(name, types[name], value, "the command line")
    return Config(**values)  # type: ignore[arg-type]


def flag_name(name: str) -> str:
    f = next(f for f in fields(Config) if f.name == name)
    return str(f.metadata.get("flag") or "--" + name.replace("_", "-"))


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, defaulting to None so that only flags given override other sources."""
    group = parser.add_argument_group("settings (flags > OMS_SOURCING_* environment > --config file > defaults)")
    group.add_argument("--config", metavar="FILE", help="TOML file of settings (see docs/configuration.md)")
    types = _field_types()
    for f in _scalar_fields():
        kind = types[f.name]
        default = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata['help']} (default: {default}; env {ENV_PREFIX}{f.name.upper()})"
        if kind is bool:
            group.add_argument(
                flag_name(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            group.add_argument(
                flag_name(f.name),
                dest=f.name,
                type=kind,
                default=None,
                choices=f.metadata.get("choices") or None,
                metavar=f.name.upper(),
                help=help_text,
            )


def config_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Config:
    flags = {f.name: getattr(args, f.name, None) for f in _scalar_fields()}
    return load_config(flags, env, getattr(args, "config", None))


def with_overrides(config: Config, **changes: Any) -> Config:
    return replace(config, **changes)
