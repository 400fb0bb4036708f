"""Shipments in: a WMS publishes shipment confirmations to JetStream, the server applies them.

A warehouse that ships publishes a ``ConfirmShipmentRequest`` (protobuf JSON: ``order_id``,
``node_id``, ``lines``, ``carrier``, ``carrier_service``, ``tracking_number``, ``shipped_at``)
to ``oms.v1.shipments.confirm``. Every server with ``shipments_intake`` on pulls from one durable
consumer of the stream ``OMS_SHIPMENTS`` (so each message goes to one of them) and calls the same
``ConfirmShipment`` handler a gRPC caller does, as the caller ``shipments-intake``.

Idempotent: the message's ``request_key`` (or, without one, its ``Nats-Msg-Id``) is the request
key, so a message delivered twice (a redelivery after a crash before the ack, or the WMS
publishing again) is a replay that changes nothing. Outcomes:

- applied (or replayed): acknowledged; the SHIPPED event goes out on ``oms.v1.orders.shipped``;
- refused (a bad field, an unknown order, a transition the order cannot take, a key reused for
  another request): terminated (never redelivered) and published to ``oms.v1.shipments.rejected``
  with the gRPC code, the message and the fields at fault;
- failed for a reason that may pass (the database down, a deadline): not acknowledged, so
  JetStream redelivers it after a back-off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from server.api.proto import orders_pb2
from server.api.status import to_status
from server.caller import calling_as
from server.deadline import deadline_after
from server.metrics import IntakeMetrics
from server.relay.messages import Destination

_log = logging.getLogger(__name__)

INTAKE_CALLER = "shipments-intake"
DURABLE = "oms-shipments-intake"
# Codes that say the request itself is wrong: redelivering it cannot help.
_REFUSALS = {
    code_pb2.INVALID_ARGUMENT,
    code_pb2.NOT_FOUND,
    code_pb2.FAILED_PRECONDITION,
    code_pb2.ALREADY_EXISTS,
    code_pb2.OUT_OF_RANGE,
}

ConfirmShipment = Callable[[orders_pb2.ConfirmShipmentRequest, Any], orders_pb2.OrderResponse]


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    nats_url: str
    prefix: str = ""
    fetch_batch: int = 64
    call_seconds: float = 30.0  # each confirmation's deadline
    redeliver_seconds: float = 1.0  # a failure that may pass: delivered again after this
    connect_timeout_seconds: float = 2.0
    backoff_max_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    ack: bool  # applied or replayed
    rejection: dict[str, Any] | None = None  # refused: what goes to the rejected subject


def handle_confirmation(confirm: ConfirmShipment, data: bytes, msg_id: str, call_seconds: float = 30.0) -> Outcome:
    """Apply one confirmation message; what to do with it. Raises only for a failure that may pass."""
    request = orders_pb2.ConfirmShipmentRequest()
    try:
        json_format.Parse(data.decode("utf-8"), request)
    except (json_format.ParseError, UnicodeDecodeError) as error:
        return Outcome(False, _rejection(code_pb2.INVALID_ARGUMENT, f"not a ConfirmShipmentRequest: {error}", msg_id))
    if not request.request_key and msg_id:
        request.request_key = f"nats:{msg_id}"  # the publisher's own dedupe id names the request
    try:
        with calling_as(INTAKE_CALLER), deadline_after(call_seconds):
            confirm(request, None)
    except Exception as error:
        status = to_status(error, "ConfirmShipment")
        if status.code not in _REFUSALS:
            raise
        fields = []
        for detail in status.details:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                fields = [{"field": v.field, "description": v.description} for v in bad.field_violations]
        rejection = _rejection(status.code, status.message, msg_id, fields)
        rejection.update(request_key=request.request_key, order_id=request.order_id, node_id=request.node_id)
        return Outcome(False, rejection)
    return Outcome(True)


def _rejection(code: int, message: str, msg_id: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "code": code_pb2.Code.Name(code),
        "message": message,
        "field_violations": fields or [],
        "msg_id": msg_id,
    }


class ShipmentsIntake:
    """Pulls confirmations from ``OMS_SHIPMENTS`` until stopped; reconnects with a back-off."""

    def __init__(
        self, confirm: ConfirmShipment, settings: IntakeSettings, metrics: IntakeMetrics | None = None
    ) -> None:
        self._confirm = confirm
        self._settings = settings
        self._destination = Destination(settings.prefix)
        self._counted = metrics.confirmations if metrics is not None else None
        self.applied = 0
        self.rejected = 0

    def _count(self, outcome: str) -> None:
        if self._counted is not None:
            self._counted.labels(outcome).inc()

    async def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            nc = None
            try:
                nc = await nats.connect(
                    servers=[self._settings.nats_url],
                    connect_timeout=self._settings.connect_timeout_seconds,
                    allow_reconnect=False,
                )
                js = nc.jetstream()
                subscription = await self._subscribe(js)
                backoff = 0.1
                while not stop.is_set():
                    try:
                        messages = await subscription.fetch(self._settings.fetch_batch, timeout=0.5)
                    except (TimeoutError, nats.errors.TimeoutError):
                        continue
                    for message in messages:
                        await self._handle(js, message)
            except Exception as error:  # the broker is down or went away: try again after a while
                _log.warning("shipments intake cannot read the broker", extra={"error": repr(error)})
                await _sleep(stop, backoff)
                backoff = min(self._settings.backoff_max_seconds, backoff * 2)
            finally:
                if nc is not None and not nc.is_closed:
                    try:
                        await nc.close()
                    except Exception as error:
                        _log.debug("intake close failed", extra={"error": repr(error)})

    async def _subscribe(self, js: JetStreamContext) -> Any:
        destination = self._destination
        try:
            await js.stream_info(destination.shipments_stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=destination.shipments_stream,
                    subjects=[destination.shipments_subjects],
                    storage=StorageType.FILE,
                    duplicate_window=300.0,
                )
            )
        return await js.pull_subscribe(
            destination.shipments_confirm_subject,
            durable=DURABLE,
            stream=destination.shipments_stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self._settings.call_seconds + 30),
        )

    async def _handle(self, js: JetStreamContext, message: Msg) -> None:
        msg_id = (message.headers or {}).get("Nats-Msg-Id", "")
        try:
            outcome = await asyncio.to_thread(
                handle_confirmation, self._confirm, message.data, msg_id, self._settings.call_seconds
            )
        except Exception as error:  # may pass (the database, a deadline): JetStream delivers it again
            _log.warning("shipment confirmation failed; redelivered later", extra={"error": repr(error)})
            await message.nak(delay=self._settings.redeliver_seconds)
            self._count("retried")
            return
        if outcome.ack:
            self.applied += 1
            await message.ack()
            self._count("applied")
            return
        self.rejected += 1
        self._count("refused")
        assert outcome.rejection is not None
        _log.warning(
            "shipment confirmation refused",
            extra={"order_id": outcome.rejection.get("order_id", ""), "reason": outcome.rejection["message"]},
        )
        # Said before the message is terminated: a crash in between says it twice, never not at all.
        await js.publish(
            self._destination.shipments_rejected_subject,
            json.dumps(outcome.rejection, sort_keys=True).encode(),
            stream=self._destination.shipments_stream,
        )
        await message.term()


async def _sleep(stop: threading.Event, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not stop.is_set() and loop.time() < deadline:
        await asyncio.sleep(min(0.05, deadline - loop.time()))


def start_intake_thread(intake: ShipmentsIntake, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=lambda: asyncio.run(intake.run(stop)), name="shipments-intake", daemon=True)
    thread.start()
    return thread
