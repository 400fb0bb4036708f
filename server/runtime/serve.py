"""Running one server process until SIGTERM/SIGINT, then shutting it down gracefully."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from server.active_rules import reload_from_files
from server.api.app import RunningServer, StartupError, create_server
from server.api.proto import orders_pb2
from server.config import Config
from server.metrics import IntakeMetrics
from server.relay.shipments_intake import IntakeSettings, ShipmentsIntake, start_intake_thread
from server.store import open_store

_log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ORDER_SERVICE = orders_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed in the main thread)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        _log.info("signal received", extra={"signal": signal.Signals(signum).name})
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)
    return stop


def _reload_on_sighup(config: Config) -> threading.Event | None:
    """SIGHUP re-reads ``rules_path`` and activates it (every worker follows through the store)."""
    if not config.rules_path or not hasattr(signal, "SIGHUP"):
        return None
    reload = threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: reload.set())
    return reload


def run_server(
    config: Config,
    *,
    on_ready: Callable[[RunningServer], None],
    migrate: bool = True,
    reuse_port: bool = False,
    serve_metrics_http: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Serve until a stop signal; 0 after a graceful shutdown, 1 when the server could not start."""
    stop = stop or stop_on_signals()
    try:
        store = open_store(config.database_url)
    except Exception as error:  # a bad URL or an unreachable database: said in one line, no traceback
        _log.error("cannot open the store", extra={"error": str(error)})
        return 1
    try:
        try:
            running = create_server(
                config, store, migrate=migrate, reuse_port=reuse_port, serve_metrics_http=serve_metrics_http
            )
        except StartupError as error:  # the port is taken, the store unusable: the reason, no traceback
            _log.error("server did not start", extra={"error": str(error)})
            return 1
        except Exception:
            _log.exception("server did not start")
            return 1
        # The relay and the webhook dispatchers run in a process of their own (server.runtime.integrations).
        intake_stop = threading.Event()
        intake_thread = None
        if config.shipments_intake:  # every process may pull: one durable consumer hands each message to one
            orders = running.servicers[ORDER_SERVICE]
            intake = ShipmentsIntake(
                orders.ConfirmShipment,
                IntakeSettings(config.relay_nats_url, config.relay_prefix),
                IntakeMetrics(running.metrics_registry),
            )
            intake_thread = start_intake_thread(intake, intake_stop)
        on_ready(running)
        reload = _reload_on_sighup(config) if threading.current_thread() is threading.main_thread() else None
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            if reload is not None and reload.is_set():
                reload.clear()
                deps = running.deps
                ok, message = reload_from_files(deps.rules, config.rules_path, deps.network.get(), "signal:SIGHUP")
                _log.log(logging.INFO if ok else logging.ERROR, message, extra={"rules_path": config.rules_path})
        intake_stop.set()
        if intake_thread is not None:
            intake_thread.join(timeout=10)  # a confirmation being applied finishes before the server stops
        running.stop(config.grace_seconds)
        return 0
    finally:
        store.close()
