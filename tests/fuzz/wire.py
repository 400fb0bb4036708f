"""Protobuf's wire format by hand, and the methods a server serves, to send them bytes.

The generated classes never produce bytes that fail to parse, so those are built here from keys,
varints and length-delimited fields (protobuf.dev, "Encoding").
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from server.api.services import service_names

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
MAX_FIELD_NUMBER = (1 << 29) - 1  # no message of ours uses it: an unknown field in every one
INVALID_UTF8 = b"\xc3\x28"  # a lead byte followed by a byte that cannot continue it

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
REFLECTION_SERVICE = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name


def varint(value: int) -> bytes:
    """``value`` as a base-128 varint; negative numbers as their 64-bit two's complement."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, LENGTH_DELIMITED) + varint(len(payload)) + payload


@dataclass(frozen=True)
class Rpc:
    """One method as a client addresses it, and the message it takes."""

    path: str  # /package.Service/Method
    request: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def parses(self, payload: bytes) -> bool:
        try:
            self.request.FromString(payload)
        except Exception:  # the parser's verdict, whatever it raises
            return False
        return True


def rpcs_of(service: str) -> list[Rpc]:
    found = descriptor_pool.Default().FindServiceByName(service)
    return [
        Rpc(f"/{service}/{m.name}", GetMessageClass(m.input_type), m.client_streaming, m.server_streaming)
        for m in found.methods
    ]


def served_rpcs(reflection: bool = False) -> list[Rpc]:
    """Every method of ours (server.api.services), health's, and reflection's when it is served."""
    services = [*service_names(), HEALTH_SERVICE, *([REFLECTION_SERVICE] if reflection else [])]
    return [rpc for service in services for rpc in rpcs_of(service)]


def string_path(message: Descriptor, max_depth: int = 5) -> list[FieldDescriptor] | None:
    """The shortest chain of fields from ``message`` to a string field (None: it holds no text)."""
    queue: deque[tuple[Descriptor, list[FieldDescriptor]]] = deque([(message, [])])
    while queue:
        current, path = queue.popleft()
        for field in current.fields:
            if field.type == FieldDescriptor.TYPE_STRING:
                return [*path, field]
        if len(path) < max_depth:
            queue.extend(
                (field.message_type, [*path, field])
                for field in current.fields
                if field.type == FieldDescriptor.TYPE_MESSAGE
            )
    return None


def nested(path: list[FieldDescriptor], leaf: bytes) -> bytes:
    """``leaf`` as the value of the last field of ``path``, each field inside the one before."""
    for field in reversed(path):
        leaf = length_delimited(field.number, leaf)
    return leaf


def undecodable(rpc: Rpc, rng: random.Random) -> dict[str, bytes]:
    """Bytes ``rpc``'s request parser refuses, by the kind of mistake; every message gets every
    kind but invalid UTF-8, which only a message that can hold text can carry."""
    noise = rng.randbytes(64)
    while rpc.parses(noise):  # random bytes now and then happen to parse: draw again
        noise = rng.randbytes(64)
    cases = {
        "random": noise,
        "ff-x32": b"\xff" * 32,
        # The last field says ten bytes follow; six arrive.
        "truncated": length_delimited(MAX_FIELD_NUMBER, b"0123456789")[:-4],
        # A length of 2**64 - 1.
        "length-overflow": key(MAX_FIELD_NUMBER, LENGTH_DELIMITED) + varint(-1) + b"x",
    }
    text = string_path(rpc.request.DESCRIPTOR)
    if text is not None:
        cases["invalid-utf8"] = nested(text, INVALID_UTF8)
    return cases


# --- reading what is there ----------------------------------------------------------------


@dataclass(frozen=True)
class WireField:
    """One field of a message as it lies in the bytes: [start, end), the value from value_start."""

    start: int
    value_start: int
    end: int
    number: int
    wire_type: int


def read_varint(data: bytes, at: int) -> tuple[int, int] | None:
    """(value, position after it), None when the bytes end first or it runs past 10 bytes."""
    value = shift = 0
    for position in range(at, min(len(data), at + 10)):
        value |= (data[position] & 0x7F) << shift
        shift += 7
        if data[position] < 0x80:
            return value, position + 1
    return None


def wire_fields(data: bytes) -> list[WireField]:
    """The top-level fields of ``data``, as far as they can be read."""
    found: list[WireField] = []
    at = 0
    while at < len(data):
        read = read_varint(data, at)
        if read is None:
            break
        tag, value_start = read
        number, wire_type = tag >> 3, tag & 7
        if wire_type == VARINT:
            skipped = read_varint(data, value_start)
            end = skipped[1] if skipped else len(data) + 1
        elif wire_type == FIXED64:
            end = value_start + 8
        elif wire_type == FIXED32:
            end = value_start + 4
        elif wire_type == LENGTH_DELIMITED:
            length = read_varint(data, value_start)
            if length is None:
                break
            value_start, end = length[1], length[1] + length[0]
        else:
            break
        if end > len(data):
            break
        found.append(WireField(at, value_start, end, number, wire_type))
        at = end
    return found


def field_paths(message: Descriptor, wanted: int, max_depth: int = 4) -> list[list[FieldDescriptor]]:
    """Every chain of fields from ``message`` down to a field of type ``wanted``, to ``max_depth``."""
    paths: list[list[FieldDescriptor]] = []

    def walk(current: Descriptor, path: list[FieldDescriptor]) -> None:
        for field in current.fields:
            if field.type == wanted:
                paths.append([*path, field])
            if field.type == FieldDescriptor.TYPE_MESSAGE and len(path) < max_depth:
                walk(field.message_type, [*path, field])

    walk(message, [])
    return paths
