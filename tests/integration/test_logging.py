"""Structured logs: one line per event, text or JSON, extra fields included."""

from __future__ import annotations

import io
import json
import logging

from server.logging import configure_logging


def _emit(log_format: str) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)  # pytest's own capture handlers live here
    configure_logging(log_format, "INFO", stream)
    try:
        logging.getLogger("test.events").info("order sourced", extra={"order_id": "O 1", "nodes": 2})
        logging.getLogger("test.events").debug("not shown")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    return stream.getvalue()


def test_json_lines() -> None:
    [line] = _emit("json").splitlines()
    event = json.loads(line)
    assert (event["msg"], event["level"], event["order_id"], event["nodes"]) == ("order sourced", "info", "O 1", 2)


def test_key_value_lines_quote_what_needs_it() -> None:
    [line] = _emit("text").splitlines()
    assert 'msg="order sourced"' in line and 'order_id="O 1"' in line and " nodes=2" in line
    assert "level=info" in line and "logger=test.events" in line
