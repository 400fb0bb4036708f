"""The gRPC server: built from a config and a store, SERVING once the store is ready.

``create_server`` binds, starts with every health status NOT_SERVING, prepares the store
(migrations, durability check, optional sample network), then turns health SERVING and returns.
``RunningServer.stop`` is the graceful shutdown: health NOT_SERVING, new calls refused,
in-flight calls given the grace period.
"""

from __future__ import annotations

import logging
import ssl
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from engine.errors import SourcingError
from server.active_rules import seed_rules
from server.api.auth import Tokens
from server.api.interceptors import AuthInterceptor, CallInterceptor
from server.api.limiter import CountingExecutor, InflightLimiter
from server.api.network_load import load_into_store, store_is_empty
from server.api.request_decoding import DecodingRegistrar
from server.api.services import ServiceDeps, register_services
from server.config import LOOPBACK_HOSTS, Config
from server.metrics import DecisionMetrics, ServerMetrics, StoreMetrics
from server.metrics_http import MetricsEndpoint, metrics_tls_context, serve_metrics
from server.network_file import read_network_file
from server.store.base import Store
from server.store.instrumented import InstrumentedStore
from server.store.rule_sets import rule_set_store
from server.tls import server_credentials, tls_mode

_log = logging.getLogger(__name__)

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


class StartupError(SourcingError, RuntimeError):
    """The server could not start: the port is taken, the store is unusable..."""


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    address: str  # host:port actually bound
    service_names: tuple[str, ...]
    health: health.HealthServicer
    health_pool: futures.ThreadPoolExecutor
    deps: ServiceDeps  # what the services were built from (the store, the network cache...)
    metrics_registry: CollectorRegistry
    metrics_endpoint: MetricsEndpoint | None = None
    light_pool: futures.ThreadPoolExecutor | None = None  # health checks and refusals (server.api.limiter)
    business_pool: CountingExecutor | None = None  # every other call, queued or running
    # Each service's handlers by full name: the shipments intake calls ConfirmShipment's directly.
    servicers: dict[str, Any] = field(default_factory=dict)
    stream_pool: CountingExecutor | None = None  # server streams (WatchEvents), a thread each
    _stopped: bool = field(default=False, repr=False)

    @property
    def target(self) -> str:
        """What a client on this host dials."""
        host, _, port = self.address.rpartition(":")
        if host in ("0.0.0.0", "[::]", "::", ""):
            host = "127.0.0.1"
        return f"{host}:{port}"

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace: float | None) -> None:
        """Graceful shutdown (idempotent): NOT_SERVING, refuse new calls, let in-flight ones finish."""
        if self._stopped:
            return
        self._stopped = True
        _log.info("shutting down", extra={"grace_seconds": grace})
        self.health.enter_graceful_shutdown()  # every status NOT_SERVING, and no later change
        self.deps.stopping.set()  # event streams and the sweeper end now, not after the grace
        self.server.stop(grace).wait()
        self.health_pool.shutdown(wait=False)
        for pool in (self.light_pool, self.stream_pool):
            if pool is not None:
                pool.shutdown(wait=False)
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.close()
        _log.info("stopped")

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self.server.wait_for_termination(timeout))


def grpc_options(config: Config, reuse_port: bool) -> list[tuple[str, int]]:
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        # Off unless several workers share the port on purpose: a second server started by
        # mistake must fail to bind instead of silently taking half the traffic.
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ]
    if config.max_connection_age_seconds > 0:
        # The kernel deals each connection to a worker once, and a caller keeps it: an uneven
        # deal (or a worker restarted and left without callers) lasts until callers reconnect.
        # GOAWAY after the age (gRPC adds +-10% jitter) sends new calls to a new connection, one
        # caller at a time. No grace limit: calls and WatchEvents streams already running on the
        # old connection finish there, never cut short by this.
        options.append(("grpc.max_connection_age_ms", int(config.max_connection_age_seconds * 1000)))
    return options


def load_security(config: Config) -> tuple[grpc.ServerCredentials | None, Tokens | None]:
    """TLS credentials and the known tokens, read from their files; None where off.

    A missing or malformed file stops the start with a message naming the setting."""
    try:
        tokens = Tokens.read(config.auth_tokens_file) if config.auth_tokens_file else None
        return server_credentials(config), tokens
    except ValueError as error:
        raise StartupError(str(error)) from None


def load_metrics_tls(config: Config) -> ssl.SSLContext | None:
    """The /metrics endpoint's TLS, from its files (None: plain HTTP); a bad file stops the start."""
    try:
        return metrics_tls_context(config)
    except ValueError as error:
        raise StartupError(str(error)) from None


def _warn_if_exposed(config: Config, tokens: Tokens | None) -> None:
    if tokens is None and config.host not in LOOPBACK_HOSTS:
        _log.warning("no authentication: anyone who reaches the port may call every method (auth_tokens_file)")
    if tokens is not None and not config.tls_cert_file:
        _log.warning("bearer tokens over plaintext: only behind a proxy or sidecar that terminates TLS (tls_cert_file)")


def prepare_store(store: Store, config: Config, migrate: bool = True) -> None:
    """Migrate, check durability settings, and load the sample network into an empty store."""
    if migrate:
        version = store.migrate()
        _log.info("store migrated", extra={"dialect": store.dialect, "schema_version": version})
    for problem in store.check_durability():
        _log.warning("store durability", extra={"problem": problem})
    if config.load_sample_if_empty and store_is_empty(store):
        network = read_network_file(config.sample_network)
        load_into_store(store, network, config.currency)
        _log.info(
            "sample network loaded",
            extra={
                "path": config.sample_network,
                "nodes": len(network.nodes),
                "items": len(network.items),
                "positions": len(network.inventory),
            },
        )
    rule_sets = rule_set_store(store)
    if config.rules_path:
        activation = seed_rules(rule_sets, config.rules_path)
        if activation is not None:
            _log.info("rule set seeded", extra={"path": config.rules_path, "version": activation.version})
    if rule_sets.active_rule_set() is None:
        _log.warning(
            "no active rule set: decisions apply no planner rules and say so in Decision.warnings; activate one"
            " with `oms-sourcing rules activate FILE...` or start with --rules-path rules/default.yaml"
        )


def create_server(
    config: Config,
    store: Store,
    *,
    migrate: bool = True,
    reuse_port: bool = False,
    serve_metrics_http: bool = True,
    deps: ServiceDeps | None = None,
) -> RunningServer:
    """Build, bind and start the server; SERVING when it returns.

    ``migrate=False`` is for worker processes whose parent already migrated; ``reuse_port``
    lets workers share one port; ``deps`` replaces the default service dependencies (tests).
    """
    credentials, tokens = load_security(config)
    metrics_tls = load_metrics_tls(config) if serve_metrics_http else None
    registry = CollectorRegistry()
    metrics = ServerMetrics(registry)
    pool = CountingExecutor(max_workers=config.threads, thread_name_prefix="rpc")
    # Two threads: a health probe must not wait behind a burst of refusals, which also run here.
    light_pool = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="light")
    stream_pool = CountingExecutor(max_workers=config.max_streams, thread_name_prefix="stream")
    limiter = InflightLimiter(pool, config.max_concurrent_rpcs, light_pool, stream_pool)
    # Outermost first: the call interceptor's metrics see mapped codes and every refusal (its error
    # mapping turns DeadlineExceeded into its status). The token check comes before the limiter,
    # so a call refused for its token never counts against the business calls; the limiter is
    # innermost so that the handler it picks (business, light or refusal) gets wrapped.
    interceptors: list[grpc.ServerInterceptor] = [CallInterceptor(metrics)]
    if tokens is not None:
        interceptors.append(AuthInterceptor(tokens, light_pool))
    server = grpc.server(pool, interceptors=[*interceptors, limiter], options=grpc_options(config, reuse_port))
    if deps is None:
        timed = cast(Store, InstrumentedStore(store, StoreMetrics(registry)))  # duck-typed, like every store
        deps = ServiceDeps.build(config, timed, observe=DecisionMetrics(registry).observe)
    # Every service, ours and gRPC's, through the registrar: each handler decodes its own request,
    # so undecodable bytes are INVALID_ARGUMENT rather than gRPC's INTERNAL (server.api.request_decoding).
    registrar = DecodingRegistrar(server)
    servicers: dict[str, Any] = {}
    names = register_services(registrar, deps, servicers)
    # Watch streams get a thread of their own so that they never hold a handler thread.
    health_pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")
    health_servicer = health.HealthServicer(experimental_non_blocking=True, experimental_thread_pool=health_pool)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    if config.reflection:
        reflection.enable_server_reflection((*names, HEALTH_SERVICE, reflection.SERVICE_NAME), registrar)
    try:
        if credentials is None:
            port = server.add_insecure_port(config.address)
        else:
            port = server.add_secure_port(config.address, credentials)
    except RuntimeError as error:  # grpcio raises on a failed bind (older releases returned 0)
        # gRPC checks the certificate and key only here, and says no more than "failed to bind".
        hint = " (or tls_cert_file and tls_key_file are not a certificate chain and its key)" if credentials else ""
        raise StartupError(f"cannot bind {config.address}{hint}: {error}") from None
    if port == 0:
        raise StartupError(f"cannot bind {config.address}")
    host = config.address.rpartition(":")[0]
    running = RunningServer(
        server=server,
        port=port,
        address=f"{host}:{port}",
        service_names=tuple(names),
        health=health_servicer,
        health_pool=health_pool,
        deps=deps,
        servicers=servicers,
        metrics_registry=registry,
        light_pool=light_pool,
        business_pool=pool,
        stream_pool=stream_pool,
    )
    running.set_serving(False)
    server.start()
    try:
        prepare_store(store, config, migrate=migrate)
        deps.network.invalidate()  # the sample may have just been written straight into the store
        deps.items.invalidate()
        if serve_metrics_http:
            running.metrics_endpoint = serve_metrics(config, registry, metrics_tls)
    except BaseException:
        running.stop(grace=0)
        raise
    running.set_serving(True)
    _warn_if_exposed(config, tokens)
    _log.info(
        "serving",
        extra={
            "address": running.address,
            "services": ",".join(names),
            "transport": tls_mode(config),
            "auth_tokens": len(tokens) if tokens is not None else "off",
            "reflection": config.reflection,
            "threads": config.threads,
            "metrics_port": running.metrics_endpoint.port if running.metrics_endpoint else 0,
        },
    )
    return running
