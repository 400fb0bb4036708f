"""A local webhook receiver for the tests: an HTTP server on port 0 that verifies signatures as
docs/integrations.md tells receivers to, dedupes by event id, and misbehaves on demand (fails,
answers too late or slowly, goes down and comes back on the same port)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, headers: dict[str, str], body: bytes, now: float, tolerance: float = 300) -> bool:
    """The verification docs/integrations.md gives receivers (kept in step with it)."""
    timestamp = headers.get("Oms-Timestamp", "")
    signature = headers.get("Oms-Signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(f"v1={expected}", s.strip()) for s in signature.split(","))


@dataclass
class Received:
    event_id: int
    order_id: str
    order_seq: int
    attempt: int
    body: dict[str, Any]


# What the receiver does with a request, given its number (1, 2...): (status, seconds to wait first).
Behaviour = Callable[[int, dict[str, str]], tuple[int, float]]


def always_ok(n: int, headers: dict[str, str]) -> tuple[int, float]:
    return 200, 0.0


@dataclass
class Receiver:
    secret: str
    behaviour: Behaviour = always_ok
    requests: int = 0
    bad_signatures: int = 0
    accepted: list[Received] = field(default_factory=list)  # first acceptance of each event id
    duplicates: int = 0  # deliveries of an event id already accepted (deduped away)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests += 1
                    n = receiver.requests
                status, delay = receiver.behaviour(n, headers)
                if delay:
                    time.sleep(delay)
                if status == 200:
                    if not verify(receiver.secret, headers, body, time.time()):
                        with receiver.lock:
                            receiver.bad_signatures += 1
                        status = 401
                    else:
                        receiver._accept(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again (on the same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _accept(self, headers: dict[str, str], body: bytes) -> None:
        event_id = int(headers["Oms-Event-Id"])
        with self.lock:
            if any(r.event_id == event_id for r in self.accepted):  # dedupe by event id
                self.duplicates += 1
                return
            data = json.loads(body)
            self.accepted.append(
                Received(
                    event_id,
                    headers.get("Oms-Order-Id", ""),
                    int(headers.get("Oms-Order-Seq", "0")),
                    int(headers["Oms-Delivery-Attempt"]),
                    data,
                )
            )

    def accepted_ids(self) -> list[int]:
        with self.lock:
            return [r.event_id for r in self.accepted]
