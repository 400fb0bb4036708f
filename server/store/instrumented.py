"""A store wrapper that times every call by operation and counts lost reservation races.

It delegates by attribute, like the tests' wrappers (stores are duck-typed: ``rule_set_store``
and ``order_store`` check for methods, not classes), so every store, present or future, is
measured without touching its code. Each method is wrapped once, on first use, and kept on the
instance: later lookups never reach ``__getattr__`` again, so the cost per call is one closure
call and one histogram observation (~2 µs), small next to a store round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from server.errors import ReservationConflict
from server.metrics import StoreMetrics

# Called once per process or returning a context manager: a latency would say nothing useful.
_UNTIMED = frozenset({"close", "migrate", "check_durability", "dialect", "transaction"})


class InstrumentedStore:
    def __init__(self, inner: Any, metrics: StoreMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    @property
    def inner(self) -> Any:
        return self._inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or name in _UNTIMED or not callable(value):
            return value
        timed = _timed(value, self._metrics, name)
        setattr(self, name, timed)  # found in the instance dict from now on
        return timed


def _timed(method: Callable[..., Any], metrics: StoreMetrics, name: str) -> Callable[..., Any]:
    histogram = metrics.operation_seconds.labels(name)  # the labelled child, resolved once
    conflicts = metrics.reservation_conflicts.labels(name)

    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        except ReservationConflict:
            conflicts.inc()
            raise
        finally:
            histogram.observe(time.perf_counter() - started)

    return call
