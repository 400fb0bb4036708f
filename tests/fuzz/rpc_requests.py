"""Request bytes for every RPC: random messages built from the schema, then broken on purpose.

Case ``index`` of seed ``seed`` depends on nothing else (its own ``random.Random``), so one case
can be made again without the ones before it. The kinds, about in these shares:

- ``valid``: a message built field by field from the request's descriptor, values drawn from the
  sample network's ids and from edges (0, -1, 2**63 - 1, NaN, 600-character ids, control
  characters, unknown enum numbers...): well formed, mostly wrong;
- mutations of such a message: ``bit-flip``, ``truncate``, ``splice`` (the head of one message,
  the tail of another), ``length-overflow`` (a length-delimited field claiming more bytes than
  follow, up to 2**64 - 1), ``invalid-utf8`` (into a string field at any depth), ``wrong-wire-type``,
  ``junk-field`` (a field of any number and type appended), ``insert``/``delete`` (bytes);
- ``random``: bytes from nowhere;
- ``huge-repeated``: one repeated field (at any depth) filled to most of the max message size.
"""

from __future__ import annotations

import json
import math
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.fuzz.wire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    Rpc,
    field_paths,
    key,
    length_delimited,
    nested,
    varint,
    wire_fields,
)

REPO = Path(__file__).resolve().parents[2]
_F = FieldDescriptor

INT_EDGES = (0, 1, -1, 2, 3, 7, 50, 100, 1000, 100_000, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, 2**63 - 1, -(2**63))
FLOAT_EDGES = (0.0, -0.0, 0.5, 1.0, -1.0, 1e-300, 1e300, -1e300, math.nan, math.inf, -math.inf, 90.0, -180.0)
INVALID_UTF8 = (b"\xc3\x28", b"\xff", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82")
ODD_TEXT = (
    "",
    " ",
    "x",
    "A" * 129,  # one past the id limit
    "é" * 200,
    "tab\there",
    "line\nbreak",
    "nul\x00byte",
    "\x7f\x1b[31m",
    "😀" * 40,
    "\u202eevil",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%s%n%x",
    "USD",
    "EUR",
    "STANDARD",
    "x" * 600,
    "rules:\n  - id: a\n",
)

# Values the promise fields read: ZIP codes (served, remote, Alaska, unknown, malformed), dates
# and times at and past their edges, time zones that exist, do not, or name a path.
PROMISE_TEXTS = (
    *("60601", "10001", "94105", "99501", "96801", "00000", "6060", "60601-1234", "606011234"),
    *("2026-12-08", "2026-02-29", "2028-02-29", "2026-13-01", "2026-12-32", "9999-12-31", "0001-01-01"),
    *("00:00", "23:59", "24:00", "17:00", "25:00", "12:60", "-1:00", "7:5"),
    *("UTC", "America/Chicago", "Pacific/Honolulu", "Mars/Olympus", "../../etc/passwd", "/etc/localtime"),
    *("MON", "SAT", "SUN", "FUNDAY", "GROUND", "TWO_DAY", "NEXT_DAY", "AK", "HI"),
)


@dataclass(frozen=True)
class Case:
    index: int
    kind: str
    rpc: Rpc
    payload: bytes


@dataclass(frozen=True)
class Vocabulary:
    """Values that mean something to the server: ids it knows, so requests reach past lookups."""

    texts: tuple[str, ...]

    @classmethod
    def from_sample_network(cls, path: Path = REPO / "data" / "sample-network.json") -> Vocabulary:
        doc = json.loads(path.read_text())
        ids = [n["id"] for n in doc["nodes"]] + [i["sku"] for i in doc["items"][:60]]
        regions = sorted({n.get("region", "") for n in doc["nodes"]})
        # Promise data (docs/promise.md): services, calendars and zones the sample names, so that
        # requests reach past the lookups into the date calculator and the carrier prices.
        services = [s["id"] for s in doc.get("carrier_services", [])]
        calendars = [c["id"] for c in doc.get("holiday_calendars", [])]
        zones = sorted({n["time_zone"] for n in doc["nodes"] if n.get("time_zone")})
        return cls(
            tuple(
                ids
                + regions
                + services
                + calendars
                + zones
                + list(PROMISE_TEXTS)
                + [f"FZ-{n}" for n in range(20)]
                + ["DC", "STORE", "1", "2"]
            )
        )


class RequestFuzzer:
    def __init__(self, rpcs: Sequence[Rpc], vocabulary: Vocabulary, max_message_bytes: int) -> None:
        self.rpcs = list(rpcs)
        self.vocabulary = vocabulary
        self.max_message_bytes = max_message_bytes
        self._mutations: tuple[tuple[str, int, Callable[[random.Random, Rpc, bytes], bytes]], ...] = (
            ("valid", 16, lambda rng, rpc, data: data),
            ("bit-flip", 12, _flip_bits),
            ("truncate", 8, lambda rng, rpc, data: data[: rng.randrange(len(data) + 1)]),
            ("splice", 8, self._splice),
            ("length-overflow", 10, _overflow_length),
            ("invalid-utf8", 10, _invalid_utf8),
            ("wrong-wire-type", 6, _wrong_wire_type),
            ("junk-field", 6, _junk_field),
            ("insert", 5, lambda rng, rpc, data: _at(rng, data, rng.randbytes(rng.randint(1, 16)), 0)),
            ("delete", 5, lambda rng, rpc, data: _at(rng, data, b"", rng.randint(1, 16))),
            ("random", 10, lambda rng, rpc, data: rng.randbytes(rng.choice((0, 1, 2, 8, 64, 512, 4096)))),
            ("huge-repeated", 2, self._huge_repeated),
        )
        self._weights = [weight for _, weight, _ in self._mutations]

    def case(self, seed: int, index: int) -> Case:
        rng = random.Random(f"{seed}:{index}")
        rpc = rng.choice(self.rpcs)
        kind, _, mutate = rng.choices(self._mutations, self._weights)[0]
        base = self.message(rpc.request.DESCRIPTOR, rng).SerializeToString()
        return Case(index, kind, rpc, mutate(rng, rpc, base))

    # --- messages from the schema -----------------------------------------------------------

    def message(self, descriptor: Descriptor, rng: random.Random, depth: int = 0) -> Message:
        message = GetMessageClass(descriptor)()
        for field in descriptor.fields:
            if rng.random() < 0.3:
                continue
            if field.type == _F.TYPE_MESSAGE and depth >= 4:
                continue
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                entries = getattr(message, field.name)
                key_field, value_field = field.message_type.fields
                for _ in range(rng.choice((0, 1, 2, 5))):
                    entries[self.scalar(key_field, rng)] = self.scalar(value_field, rng)
            elif field.is_repeated:
                values = getattr(message, field.name)
                for _ in range(rng.choice((0, 1, 1, 2, 3, 5, 20))):
                    if field.type == _F.TYPE_MESSAGE:
                        values.add().CopyFrom(self.message(field.message_type, rng, depth + 1))
                    else:
                        values.append(self.scalar(field, rng))
            elif field.type == _F.TYPE_MESSAGE:
                getattr(message, field.name).CopyFrom(self.message(field.message_type, rng, depth + 1))
            else:
                setattr(message, field.name, self.scalar(field, rng))
        return message

    def scalar(self, field: FieldDescriptor, rng: random.Random) -> Any:
        kind = field.type
        if kind == _F.TYPE_STRING:
            pool = self.vocabulary.texts if rng.random() < 0.6 else ODD_TEXT
            return rng.choice(pool)
        if kind == _F.TYPE_BYTES:
            return rng.randbytes(rng.choice((0, 1, 16)))
        if kind == _F.TYPE_BOOL:
            return rng.random() < 0.5
        if kind == _F.TYPE_ENUM:
            numbers = [value.number for value in field.enum_type.values]
            return rng.choice((*numbers, *numbers, 99, -1))  # proto3 enums are open: any int32 goes
        if kind in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
            value = rng.choice(FLOAT_EDGES) if rng.random() < 0.5 else rng.uniform(-200, 200)
            return value if kind == _F.TYPE_DOUBLE or not math.isfinite(value) or abs(value) < 3e38 else 1.0
        bits = 64 if kind in (_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64, _F.TYPE_UINT64, _F.TYPE_FIXED64) else 32
        unsigned = kind in (_F.TYPE_UINT32, _F.TYPE_UINT64, _F.TYPE_FIXED32, _F.TYPE_FIXED64)
        value = rng.choice(INT_EDGES) if rng.random() < 0.5 else rng.randint(-5, 500)
        low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return min(max(value, low), high)

    # --- mutations that need the fuzzer ---------------------------------------------------------

    def _splice(self, rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
        other_rpc = rpc if rng.random() < 0.7 else rng.choice(self.rpcs)
        other = self.message(other_rpc.request.DESCRIPTOR, rng).SerializeToString()
        return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]

    def _huge_repeated(self, rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
        """One repeated field, at any depth, with one element repeated to fill the budget."""
        paths = [p for p in field_paths(rpc.request.DESCRIPTOR, _F.TYPE_MESSAGE) if p[-1].is_repeated]
        paths += [p for kind in _SCALAR_TYPES for p in field_paths(rpc.request.DESCRIPTOR, kind) if p[-1].is_repeated]
        if not paths:
            return data + length_delimited(1, b"x" * rng.randint(1, self.max_message_bytes // 2))
        path = rng.choice(paths)
        leaf = path[-1]
        if leaf.type == _F.TYPE_MESSAGE:
            element = self.message(leaf.message_type, rng, depth=3).SerializeToString()
        else:
            element = _scalar_bytes(leaf, self.scalar(leaf, rng))
        one = _field_bytes(leaf, element)
        budget = rng.choice((10_000, 100_000, 1_000_000, self.max_message_bytes - 64 * 1024))
        repeated = one * max(1, budget // max(1, len(one)))
        return data + nested(path[:-1], repeated)


_SCALAR_TYPES = (_F.TYPE_STRING, _F.TYPE_INT32, _F.TYPE_INT64, _F.TYPE_ENUM, _F.TYPE_DOUBLE, _F.TYPE_BOOL)


def _scalar_bytes(field: FieldDescriptor, value: Any) -> bytes:
    if field.type == _F.TYPE_STRING:
        return str(value).encode()
    if field.type == _F.TYPE_DOUBLE:
        return struct.pack("<d", value)
    return varint(int(value))


def _field_bytes(field: FieldDescriptor, value: bytes) -> bytes:
    """``value`` (already encoded) as one occurrence of ``field``."""
    if field.type in (_F.TYPE_MESSAGE, _F.TYPE_STRING, _F.TYPE_BYTES):
        return length_delimited(field.number, value)
    if field.type == _F.TYPE_DOUBLE:
        return key(field.number, FIXED64) + value
    return key(field.number, VARINT) + value


def _at(rng: random.Random, data: bytes, insert: bytes, delete: int) -> bytes:
    position = rng.randrange(len(data) + 1)
    return data[:position] + insert + data[position + delete :]


def _flip_bits(rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    flipped = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    return bytes(flipped)


def _overflow_length(rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
    """A length-delimited field whose length claims more than follows (at the top level when
    there is one, else appended)."""
    claims = (2**31 - 1, 2**31, 2**32 + 1, 2**63, 2**64 - 1)
    delimited = [f for f in wire_fields(data) if f.wire_type == LENGTH_DELIMITED]
    if not delimited:
        return data + key(rng.randint(1, 20), LENGTH_DELIMITED) + varint(rng.choice(claims)) + b"xy"
    field = rng.choice(delimited)
    actual = field.end - field.value_start
    claim = rng.choice((actual + 1, actual + rng.randint(2, 1000), *claims))
    return data[: field.start] + key(field.number, LENGTH_DELIMITED) + varint(claim) + data[field.value_start :]


def _invalid_utf8(rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
    paths = field_paths(rpc.request.DESCRIPTOR, _F.TYPE_STRING)
    bad = b"ok" + rng.choice(INVALID_UTF8) + b"ok"
    if not paths:
        return data + length_delimited(rng.randint(1, 20), bad)
    return data + nested(rng.choice(paths), bad)  # a later occurrence merges into (or replaces) the field


def _wrong_wire_type(rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
    fields = wire_fields(data)
    if not fields:
        return data + key(1, rng.choice((VARINT, FIXED64, FIXED32, 3, 4, 6, 7)))
    field = rng.choice(fields)
    other = rng.choice([t for t in (VARINT, FIXED64, LENGTH_DELIMITED, FIXED32, 3, 4, 6, 7) if t != field.wire_type])
    head = key(field.number, other)
    rest = data[field.start :]
    old_key_length = len(key(field.number, field.wire_type))
    return data[: field.start] + head + rest[old_key_length:]


def _junk_field(rng: random.Random, rpc: Rpc, data: bytes) -> bytes:
    number = rng.choice((1, 2, 3, 15, 16, 1000, 2**29 - 1, 0))
    wire_type = rng.choice((VARINT, FIXED64, LENGTH_DELIMITED, FIXED32, 3, 4))
    body = {
        VARINT: varint(rng.choice(INT_EDGES)),
        FIXED64: rng.randbytes(8),
        LENGTH_DELIMITED: varint(3) + rng.randbytes(3),
        FIXED32: rng.randbytes(4),
    }.get(wire_type, b"")
    return data + key(number, wire_type) + body
