"""Several server processes sharing one port (``serve --workers N``).

The parent migrates the store once, reserves the port, starts N worker processes (spawned, not
forked: gRPC's threads do not survive fork) that each open their own store connection and bind
the port with SO_REUSEPORT, so the kernel spreads connections across them. The parent serves
the aggregated /metrics (prometheus_client multiprocess mode), forwards SIGTERM/SIGINT to the
workers, and exits when they have: 0 if every worker shut down cleanly. A worker that dies
makes the parent stop the others and exit 1 (the service manager restarts the group); a parent
that dies, even by SIGKILL, makes every worker stop within ORPHAN_EXIT_SECONDS, so a restarted
group never shares the port with the old one's orphans.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, TextIO

from prometheus_client import CollectorRegistry

from server.api.app import RunningServer, load_metrics_tls, load_security, prepare_store
from server.config import Config
from server.logging import configure_logging
from server.metrics import MULTIPROC_ENV, aggregating_registry, mark_worker_dead
from server.metrics_http import serve_metrics
from server.relay.relay import RelaySettings
from server.runtime.affinity import pin_process
from server.runtime.integrations import integrations_wanted, run_integrations
from server.runtime.serve import run_server, stop_on_signals
from server.store import open_store

_log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 60.0
# How long a worker whose parent died gives its calls in flight before it exits regardless.
ORPHAN_EXIT_SECONDS = 1.5


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, non-listening SO_REUSEPORT socket holding ``port`` (0: a free one) for the workers.

    It never accepts connections (it does not listen), and it stops another program taking the
    port between now and the moment the workers bind it.
    """
    bare = host.strip("[]")
    family, _, _, _, address = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def worker_main(config: Config, ready: Any, slot: int) -> None:
    """Entry point of worker ``slot`` (0 to workers - 1)."""
    configure_logging(config.log_format, config.log_level)
    if config.pin_cpus:
        pin_process(slot)  # before the server starts its threads; they inherit it
    stop = stop_on_signals()
    _stop_when_orphaned(stop)

    def report(running: RunningServer) -> None:
        ready.put(os.getpid())

    code = run_server(config, on_ready=report, migrate=False, reuse_port=True, serve_metrics_http=False, stop=stop)
    # The server has stopped and closed its store: leave without the interpreter's finalization,
    # which takes seconds on a loaded machine (gRPC's and OR-Tools' teardown) and, once begun, keeps
    # the parent watch's daemon thread from running, so an orphan could outlive its deadline.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def integrations_main(config: Config, ready: Any) -> None:
    """Entry point of the integrations process: the relay and the webhook dispatchers."""
    configure_logging(config.log_format, config.log_level)
    stop = stop_on_signals()
    _stop_when_orphaned(stop)
    code = 1
    try:
        store = open_store(config.database_url)
    except Exception as error:  # the parent opened it a moment ago: said in one line, the group stops
        _log.error("cannot open the store", extra={"error": str(error)})
    else:
        try:
            settings = (
                RelaySettings(config.relay_nats_url, prefix=config.relay_prefix) if config.relay_nats_url else None
            )
            ready.put(os.getpid())
            run_integrations(store, config, stop, CollectorRegistry(), settings, lambda line: _log.info(line))
            code = 0
        finally:
            store.close()
    logging.shutdown()
    os._exit(code)  # as a worker does: no slow interpreter teardown


def _stop_when_orphaned(stop: threading.Event) -> None:
    """Stop this worker when its parent dies, however it dies.

    Killed with SIGKILL, the parent forwards no signal, and a worker left running would keep
    serving unsupervised beside the group a service manager starts next. multiprocessing hands
    every spawned child the read end of a pipe whose write end only the parent holds (the parent
    sentinel); the kernel closes it when the parent dies, whichever of its threads spawned us and
    on every platform. (prctl's PR_SET_PDEATHSIG would be Linux-only, and it fires on the exit
    of the spawning thread, not of the process.) The server stops listening at once and gives
    calls in flight until ORPHAN_EXIT_SECONDS; each store write is one transaction, so a call cut
    short there leaves nothing half done, and a client retries it with its request key.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by run_workers
        return

    def watch(sentinel: int) -> None:
        wait([sentinel])
        _log.error("the parent process died; this worker stops", extra={"parent_pid": parent.pid})
        stop.set()
        time.sleep(ORPHAN_EXIT_SECONDS)
        _log.error("calls still in flight after the parent died; exiting", extra={"seconds": ORPHAN_EXIT_SECONDS})
        os._exit(1)

    threading.Thread(target=watch, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def run_workers(config: Config, out: TextIO) -> int:
    stop = stop_on_signals()
    try:
        load_security(config)  # a missing certificate or tokens file is said once, before any worker starts
        metrics_tls = load_metrics_tls(config)
        store = open_store(config.database_url)
        try:
            prepare_store(store, config, migrate=True)  # once, before any worker opens the store
        finally:
            store.close()
        reserved = reserve_port(config.host, config.port)
    except Exception:
        _log.exception("server did not start")
        return 1
    metrics_dir = tempfile.mkdtemp(prefix="oms-sourcing-metrics-")
    try:  # before any worker starts: a metrics port already taken stops the start here
        endpoint = serve_metrics(config, aggregating_registry(metrics_dir), metrics_tls)
    except OSError:
        _log.exception("server did not start: cannot serve metrics on the metrics_host and metrics_port")
        reserved.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        return 1
    port = reserved.getsockname()[1]
    worker_config = replace(config, port=port, workers=1, load_sample_if_empty=False, metrics_port=0)
    os.environ[MULTIPROC_ENV] = metrics_dir  # inherited by the workers, read when they import prometheus_client

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    workers: list[BaseProcess] = [
        context.Process(target=worker_main, args=(worker_config, ready, i), name=f"oms-sourcing-worker-{i}")
        for i in range(config.workers)
    ]
    if integrations_wanted(config):  # supervised like a worker: started, watched and stopped with them
        workers.append(
            context.Process(target=integrations_main, args=(worker_config, ready), name="oms-sourcing-integrations")
        )
    for worker in workers:
        worker.start()
    clean = False
    try:
        if _wait_ready(workers, ready, stop):
            reserved.close()
            pids = ",".join(str(w.pid) for w in workers[: config.workers])
            more = "".join(f"; integrations pid {w.pid}" for w in workers[config.workers :])
            _log.info("workers serving", extra={"address": worker_config.address, "pids": pids})
            print(
                f"serving on {worker_config.address} (workers {config.workers}: pids {pids}{more})",
                file=out,
                flush=True,
            )
            if config.rules_path and hasattr(signal, "SIGHUP"):  # one worker reloads; the rest follow the store
                signal.signal(signal.SIGHUP, lambda signum, frame: os.kill(workers[0].pid or 0, signal.SIGHUP))
            while not stop.wait(0.5):
                if any(not w.is_alive() for w in workers[: config.workers]):
                    _log.error("a worker exited unexpectedly; stopping the others")
                    break
                if any(not w.is_alive() for w in workers[config.workers :]):
                    _log.error("the integrations process exited unexpectedly; stopping the workers")
                    break
            clean = stop.is_set()
    finally:
        reserved.close()
        _stop_workers(workers, config.grace_seconds)
        if endpoint is not None:
            endpoint.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0 if clean and all(w.exitcode == 0 for w in workers) else 1


def _wait_ready(workers: list[BaseProcess], ready: Any, stop: Any) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = {w.pid for w in workers}
    while pending:
        if stop.is_set() or time.monotonic() > deadline:
            _log.error("workers did not become ready", extra={"pending": len(pending)})
            return False
        if any(not w.is_alive() for w in workers):
            _log.error("a worker failed to start")
            return False
        try:
            pending.discard(ready.get(timeout=0.2))
        except queue.Empty:
            continue
    return True


def _stop_workers(workers: list[BaseProcess], grace_seconds: float) -> None:
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds + 10  # the grace period, plus time to exit
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            _log.error("worker did not stop in time; killing it", extra={"pid": worker.pid})
            worker.kill()
            worker.join()
        if worker.pid is not None:
            mark_worker_dead(worker.pid)
