"""What the relay sends: streams, subjects, headers and the message body of each outbox event.

Pure functions of an event (no I/O), so the wire format is tested without a broker and
documented in one place (docs/integrations.md, "Messages").

- Stream ``OMS_ORDERS`` holds subjects ``oms.v1.orders.>``; an event of type ``ALLOCATED`` goes
  to ``oms.v1.orders.allocated``. A consumer subscribes to all of them (``oms.v1.orders.>``) or
  to the types it acts on.
- ``Nats-Msg-Id`` is the event id, so JetStream's duplicate window drops a message published
  again after a retry or a restart.
- The order id travels in the ``Oms-Order-Id`` header (order ids may hold characters a subject
  token may not), with the order's own sequence number (``Oms-Order-Seq``).
- A prefix (``relay_prefix``) puts every subject under ``<prefix>.`` and every stream name under
  ``<PREFIX>_``: several deployments (or test runs) on one NATS account stay apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from server.store.outbox import OutboxEvent

SCHEMA_VERSION = 1
API_VERSION = "v1"
# Events about no order, by type prefix: RULES_ACTIVATED goes to oms.v1.rules.activated.
OPERATION_AREAS = {"RULES_": "rules", "NETWORK_": "network", "STOCK_": "stock"}
_PREFIX = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class Outgoing:
    subject: str
    headers: dict[str, str]
    body: bytes
    msg_id: str
    stream: str  # the stream it must land in (JetStream's Nats-Expected-Stream)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one deployment's messages go: its stream names and subjects."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX.match(self.prefix):
            raise ValueError(
                f"relay prefix {self.prefix!r} must be lower-case letters and digits, words joined by - or _"
            )

    @property
    def _subject_root(self) -> str:
        root = f"oms.{API_VERSION}"
        return f"{self.prefix}.{root}" if self.prefix else root

    @property
    def orders_stream(self) -> str:
        return self._stream("OMS_ORDERS")

    @property
    def orders_subjects(self) -> str:
        return f"{self._subject_root}.orders.>"

    def order_subject(self, event_type: str) -> str:
        return f"{self._subject_root}.orders.{_token(event_type)}"

    @property
    def fulfillment_stream(self) -> str:
        return self._stream("OMS_FULFILLMENT")

    @property
    def fulfillment_subjects(self) -> str:
        return f"{self._subject_root}.fulfillment.>"

    def fulfillment_subject(self, node_id: str) -> str:
        return f"{self._subject_root}.fulfillment.{_node_token(node_id)}"

    @property
    def operations_stream(self) -> str:
        return self._stream("OMS_OPERATIONS")

    @property
    def operations_subjects(self) -> list[str]:
        return [f"{self._subject_root}.{area}.>" for area in OPERATION_AREAS.values()]

    def event_subject(self, event_type: str, order_id: str) -> tuple[str, str]:
        """(subject, stream) of an event: an order's on ``orders.<event>``; one about no order whose
        type names an area (``RULES_ACTIVATED``, ``NETWORK_CHANGED``, ``STOCK_SHORTFALL``) on
        ``<area>.<rest>`` in the operations stream."""
        if not order_id:
            for type_prefix, area in OPERATION_AREAS.items():
                if event_type.startswith(type_prefix) and len(event_type) > len(type_prefix):
                    rest = _token(event_type[len(type_prefix) :])
                    return f"{self._subject_root}.{area}.{rest}", self.operations_stream
        return self.order_subject(event_type), self.orders_stream

    @property
    def shipments_stream(self) -> str:
        return self._stream("OMS_SHIPMENTS")

    @property
    def shipments_subjects(self) -> str:
        return f"{self._subject_root}.shipments.>"

    @property
    def shipments_confirm_subject(self) -> str:
        """Where a WMS publishes shipment confirmations (the intake's consumer reads them)."""
        return f"{self._subject_root}.shipments.confirm"

    @property
    def shipments_rejected_subject(self) -> str:
        """Where the intake says which confirmations it refused, and why."""
        return f"{self._subject_root}.shipments.rejected"

    def _stream(self, name: str) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_{name}" if self.prefix else name


def _token(event_type: str) -> str:
    """An event type as one subject token: lower case, anything but letters, digits, - and _ as _."""
    return re.sub(r"[^a-z0-9_-]", "_", event_type.lower()) or "_"


def _node_token(node_id: str) -> str:
    """A node id as one subject token: characters a token may not hold (., *, >, spaces) as _;
    the ``Oms-Node-Id`` header carries the id itself."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", node_id) or "_"


def _stamp(event: OutboxEvent) -> str:
    return event.created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def order_message(destination: Destination, event: OutboxEvent) -> Outgoing:
    """The message of one outbox event: its subject, headers and JSON body."""
    data = json.loads(event.payload) if event.payload else {}
    occurred = _stamp(event)
    body = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event.id,
        "position": event.seq,
        "type": event.type,
        "order_id": event.order_id or None,
        "order_seq": event.order_seq or None,
        "occurred_at": occurred,
        "by": data.get("by") if isinstance(data, dict) else None,
        "data": data,
    }
    msg_id = str(event.id)
    headers = {
        "Nats-Msg-Id": msg_id,
        "Oms-Schema-Version": str(SCHEMA_VERSION),
        "Oms-Event-Type": event.type,
        "Oms-Event-Position": str(event.seq),
    }
    if event.order_id:
        headers["Oms-Order-Id"] = event.order_id
        headers["Oms-Order-Seq"] = str(event.order_seq)
    subject, stream = destination.event_subject(event.type, event.order_id)
    return Outgoing(
        subject=subject,
        headers=headers,
        body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
        msg_id=msg_id,
        stream=stream,
    )


def publish_window(events: list[OutboxEvent], limit: int) -> list[OutboxEvent]:
    """The longest prefix of ``events`` (at most ``limit``) with at most one event per order: what
    may be in flight at once without an order's later event overtaking its earlier one."""
    seen: set[str] = set()
    window: list[OutboxEvent] = []
    for event in events[:limit]:
        if event.order_id and event.order_id in seen:
            break
        seen.add(event.order_id)
        window.append(event)
    return window


# --- fulfillment instructions ------------------------------------------------------------------

SHIP = "SHIP"
CANCEL = "CANCEL"
RELEASED_STATE = "RELEASED"


def needs_order(event: OutboxEvent) -> bool:
    """Whether ``event`` may carry fulfillment instructions (they need the order as placed)."""
    if not event.order_id:
        return False
    return event.type == "RELEASED" or '"hold_state": "RELEASED"' in event.payload


def fulfillment_messages(destination: Destination, event: OutboxEvent, order_request: str) -> list[Outgoing]:
    """The instructions a warehouse acts on, one message per node, for an event that hands units to
    fulfillment (SHIP: a release, or units reserved for an order already released) or takes them
    back (CANCEL: a node rejected released units and they were reallocated; a released order
    cannot be cancelled, the warehouse works it). ``order_request``: the order as
    it was placed (JSON), for its SKUs, ship-to and service level; empty: the order is unknown."""
    if not event.order_id or not order_request:
        return []
    data = json.loads(event.payload) if event.payload else {}
    if not isinstance(data, dict):
        return []
    ship: dict[str, list[tuple[str, int]]] = {}
    cancel: dict[str, list[tuple[str, int]]] = {}
    if event.type == "RELEASED":
        for line_id, node_id, qty in data.get("holds", []):
            ship.setdefault(str(node_id), []).append((str(line_id), int(qty)))
    elif data.get("hold_state") == RELEASED_STATE:
        for line_id, node_id, qty in data.get("allocations", []):
            ship.setdefault(str(node_id), []).append((str(line_id), int(qty)))
        if event.type == "REALLOCATED" and data.get("excluded_node"):
            for line_id, qty in data.get("moved", []):
                cancel.setdefault(str(data["excluded_node"]), []).append((str(line_id), int(qty)))
    if not ship and not cancel:
        return []
    order = json.loads(order_request)
    skus = {str(line.get("lineId", "")): str(line.get("sku", "")) for line in order.get("lines", [])}
    common = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event.id,
        "order_id": event.order_id,
        "order_seq": event.order_seq,
        "occurred_at": _stamp(event),
        "by": data.get("by"),
    }
    out = []
    for kind, per_node in ((CANCEL, cancel), (SHIP, ship)):  # a move: the old node stops before the new starts
        for node_id in sorted(per_node):
            lines = [
                {"line_id": line_id, "sku": skus.get(line_id, ""), "qty": qty}
                for line_id, qty in per_node[node_id]
                if qty > 0
            ]
            body: dict[str, Any] = {
                **common,
                "instruction": kind,
                "instruction_id": f"{event.id}:{kind}:{node_id}",
                "node_id": node_id,
                "lines": lines,
            }
            if kind == SHIP:
                body["ship_to"] = {"address": order.get("shipToAddress"), "location": order.get("shipTo")}
                body["service_level"] = order.get("serviceLevel") or None
                body["carrier_service"] = None  # not chosen by the service yet
                body["ship_by"] = None  # not promised by the service yet
            else:
                body["reason"] = data.get("reason") or ("reallocated" if event.type == "REALLOCATED" else "")
            msg_id = body["instruction_id"]
            headers = {
                "Nats-Msg-Id": msg_id,
                "Oms-Schema-Version": str(SCHEMA_VERSION),
                "Oms-Instruction": kind,
                "Oms-Order-Id": event.order_id,
                "Oms-Order-Seq": str(event.order_seq),
                "Oms-Node-Id": node_id,
                "Oms-Event-Id": str(event.id),
            }
            out.append(
                Outgoing(
                    subject=destination.fulfillment_subject(node_id),
                    headers=headers,
                    body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                    msg_id=msg_id,
                    stream=destination.fulfillment_stream,
                )
            )
    return out
