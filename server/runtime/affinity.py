"""Pinning a server process to one CPU (``pin_cpus``).

A process's threads (gRPC's poller, the handler threads, the store's) take turns at one GIL.
Spread over two cores, every hand-off wakes a thread on the other core, with cold caches: on the
2-core benchmark machine one process served Source at 427-474 calls/s unpinned against 566-567
pinned, at 1,760 against 2,267-2,519 µs of server CPU per call (docs/decisions.md). Linux only;
elsewhere the setting is reported and ignored.
"""

from __future__ import annotations

import logging
import os

_log = logging.getLogger(__name__)


def cpu_for(slot: int, allowed: set[int]) -> int:
    """The CPU worker ``slot`` takes: the slot-th of the CPUs this process may use, round robin."""
    ordered = sorted(allowed)
    return ordered[slot % len(ordered)]


def pin_process(slot: int) -> int | None:
    """Pin every thread of this process, and those it starts later, to the CPU for ``slot``.

    Returns that CPU, or None where the platform cannot pin. Threads inherit their creator's
    affinity, and each thread already running is pinned too (gRPC may have started some).
    """
    if not hasattr(os, "sched_setaffinity"):
        _log.warning("pin_cpus is not supported on this platform; ignored")
        return None
    cpu = cpu_for(slot, os.sched_getaffinity(0))
    for task in _threads():
        try:
            os.sched_setaffinity(task, {cpu})
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    _log.info("pinned to one CPU", extra={"cpu": cpu, "slot": slot})
    return cpu


def _threads() -> list[int]:
    try:
        return [int(task) for task in os.listdir("/proc/self/task")]
    except FileNotFoundError:  # no /proc: the calling thread alone
        return [0]
