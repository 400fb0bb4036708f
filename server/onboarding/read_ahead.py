"""Batches read ahead in a thread of their own, so that the next batch is read and checked while
the store writes this one: the database (PostgreSQL's backend, SQLite's C code with the GIL
released) works on the other core meanwhile. At most ``depth`` batches wait, so memory stays
bounded; an exception of the reader reaches the writer at the point it happened."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import Any

_POLL_S = 0.1


class ReadAhead:
    def __init__(self, batches: Iterator[Any], depth: int = 2) -> None:
        self._batches = batches
        self._queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="import-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for batch in self._batches:
                if not self._put(("batch", batch)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # handed to the writer, which raises it as its own
            self._put(("error", exc))

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                kind, value = self._queue.get(timeout=_POLL_S)
            except Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return  # stopped from outside
                continue
            if kind == "batch":
                yield value
            elif kind == "end":
                return
            else:
                raise value

    def stop(self) -> None:
        """Stop reading (the writer gave up) and wait for the reader thread to leave."""
        self._stop.set()
        self._thread.join()
