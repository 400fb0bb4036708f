"""Hostile network files (docs/network-file.md): a small valid network from the sample, broken.

Case ``index`` of seed ``seed`` is made by its own ``random.Random``. Kinds:

- ``valid``: a few nodes, items, their stock and the rate tables, as the sample has them;
- ``type-swap``: a value somewhere replaced by one of another JSON type;
- ``hostile-number``: NaN, Infinity, 1e999, -0, 2**64... where a number goes;
- ``hostile-string``: 100,000 characters, NUL and control characters, right-to-left marks,
  impossible dates, where a string goes;
- ``huge-integer``: 10**400 where a number goes;
- ``lone-surrogate``: ``"\\ud800"`` where a string goes;
- ``drop-key`` / ``extra-key`` / ``duplicate-key``;
- ``huge-array``: thousands of nodes, stock rows, carrier zones, cut-offs or holidays (a calendar
  closed every day for years; files of a few MB);
- ``bytes``: the text truncated, bytes flipped, invalid UTF-8, a byte-order mark, random bytes;
- ``deep-nesting``: arrays inside arrays 100,000 deep.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from tests.fuzz.rpc_requests import REPO

SAMPLE = REPO / "data" / "sample-network.json"
# Kinds left out of the default run (OMS_FUZZ_INCLUDE=kind,... runs them): none since the reader
# refuses deep nesting, huge integers and lone surrogates with NetworkFileError.
NOT_BY_DEFAULT: frozenset[str] = frozenset()

HOSTILE_NUMBERS = (
    *("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-400", "-0", "-0.0", "0.1e1", "1E+2"),
    *(str(2**53 + 1), str(2**63), str(2**64), str(-(2**63) - 1), "123456789012345678901234567890.5"),
)
HUGE_INTEGERS = (str(10**400), str(-(10**309)))
LONE_SURROGATES = (r"\ud800", r"\udfff\ud800", r"a\udbff")  # JSON escapes: json.loads makes them str
HOSTILE_STRINGS = (
    "x" * 100_000,
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\u001b[31m",
    "\u202eevil",
    "😀",
    "DC-01\n",
    "US-TN",
    "oms-sourcing/network@1",
    "2026-13-45T99:99:99Z",
    "0000-00-00T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "24:00",
    "23:60",
    "Mars/Olympus",
    "../../etc/passwd",
    "0001-01-01",
)


class NetworkFileFuzzer:
    def __init__(self, include: frozenset[str] = frozenset()) -> None:
        sample = json.loads(SAMPLE.read_text())
        nodes = sample["nodes"][:4]
        items = sample["items"][:6]
        node_ids = {n["id"] for n in nodes}
        skus = {i["sku"] for i in items}
        small = {key: value for key, value in sample.items() if key not in ("nodes", "items", "inventory")}
        small["nodes"] = nodes
        small["items"] = items
        small["inventory"] = [r for r in sample["inventory"] if r["node_id"] in node_ids and r["sku"] in skus]
        self.base = small
        kinds: dict[str, tuple[int, Callable[[random.Random], bytes]]] = {
            "valid": (5, lambda rng: self._dump(self.base)),
            "type-swap": (15, self._type_swap),
            "hostile-number": (15, lambda rng: self._replace(rng, rng.choice(HOSTILE_NUMBERS), numbers_only=True)),
            "hostile-string": (15, lambda rng: self._replace(rng, json.dumps(rng.choice(HOSTILE_STRINGS)))),
            "huge-integer": (4, lambda rng: self._replace(rng, rng.choice(HUGE_INTEGERS), numbers_only=True)),
            "lone-surrogate": (4, lambda rng: self._replace(rng, f'"{rng.choice(LONE_SURROGATES)}"')),
            "drop-key": (8, self._drop_key),
            "extra-key": (5, self._extra_key),
            "duplicate-key": (5, self._duplicate_key),
            "huge-array": (4, self._huge_array),
            "bytes": (15, self._bytes),
            "deep-nesting": (3, lambda rng: b"[" * 100_000 + b"]" * 100_000),
        }
        self.kinds = {name: kind for name, kind in kinds.items() if name not in NOT_BY_DEFAULT or name in include}

    def case(self, seed: int, index: int) -> tuple[str, bytes]:
        rng = random.Random(f"network:{seed}:{index}")
        names = list(self.kinds)
        name = rng.choices(names, [self.kinds[n][0] for n in names])[0]
        return name, self.kinds[name][1](rng)

    @staticmethod
    def _dump(doc: Any) -> bytes:
        return json.dumps(doc, indent=1, allow_nan=True).encode()

    def _paths(self, doc: Any, numbers_only: bool = False) -> list[tuple[Any, Any]]:
        """(container, key) of every value in ``doc``."""
        found: list[tuple[Any, Any]] = []

        def walk(value: Any) -> None:
            pairs = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
            for key, child in pairs:
                if not numbers_only or (isinstance(child, int | float) and not isinstance(child, bool)):
                    found.append((value, key))
                walk(child)

        walk(doc)
        return found

    def _replace(self, rng: random.Random, raw_json: str, numbers_only: bool = False) -> bytes:
        """The base with one value replaced by ``raw_json``, spliced in as text (so that NaN and
        10**400 stay what they are)."""
        doc = copy.deepcopy(self.base)
        container, key = rng.choice(self._paths(doc, numbers_only))
        marker = "\u0001FUZZ\u0001"
        container[key] = marker
        return self._dump(doc).replace(json.dumps(marker).encode(), raw_json.encode())

    def _type_swap(self, rng: random.Random) -> bytes:
        other = rng.choice(("null", "true", "0", "-1", "1.5", '""', '"x"', "[]", "{}", '[{"id": 1}]', '{"": null}'))
        return self._replace(rng, other)

    def _drop_key(self, rng: random.Random) -> bytes:
        doc = copy.deepcopy(self.base)
        dicts = [(c, k) for c, k in self._paths(doc) if isinstance(c, dict)]
        container, key = rng.choice(dicts)
        del container[key]
        return self._dump(doc)

    def _extra_key(self, rng: random.Random) -> bytes:
        doc = copy.deepcopy(self.base)
        dicts = [c[k] for c, k in self._paths(doc) if isinstance(c[k], dict)] + [doc]
        rng.choice(dicts)[rng.choice(("extra", "", "id ", "__proto__", "x" * 300))] = rng.choice((1, "y", None, []))
        return self._dump(doc)

    def _duplicate_key(self, rng: random.Random) -> bytes:
        text = self._dump(self.base).decode()
        keys = [k for k in ('"id": ', '"sku": ', '"on_hand": ', '"lat": ', '"format": ', '"nodes": ') if k in text]
        chosen = rng.choice(keys)
        value = rng.choice(('"DUP"', "1", "null", "[]"))
        at = rng.choice([i for i in range(len(text)) if text.startswith(chosen, i)])
        return (text[:at] + f"{chosen}{value}, " + text[at:]).encode()

    def _huge_array(self, rng: random.Random) -> bytes:
        doc = copy.deepcopy(self.base)
        count = rng.choice((1_000, 6_000, 20_000))
        what = rng.choice(("nodes", "inventory", "zones", "tags", "holidays", "cutoffs"))
        services = doc.get("carrier_services") or []
        if what == "nodes":
            template = doc["nodes"][0]
            doc["nodes"] = [{**template, "id": f"FZ-{n}"} for n in range(count)]
        elif what == "inventory":
            row = doc["inventory"][0] if doc["inventory"] else {"node_id": "DC-01", "sku": "ACC-00001", "on_hand": 1}
            doc["inventory"] = [dict(row) for _ in range(count)]
        elif what == "zones" and services:
            zone = services[0]["zones"][0]
            services[0]["zones"] = [{**zone, "zone": n + 1, "up_to_miles": n + 1} for n in range(count)]
        elif what == "holidays" and doc.get("holiday_calendars"):
            # Every day for years: a calendar with no business day in reach of a promise.
            first = date(2026, 1, 1).toordinal()
            doc["holiday_calendars"][0]["dates"] = [date.fromordinal(first + n).isoformat() for n in range(count)]
        elif what == "cutoffs" and services:
            doc["nodes"][0]["cutoffs"] = [
                {"carrier_service": services[n % len(services)]["id"], "time": f"{n // 60 % 24:02d}:{n % 60:02d}"}
                for n in range(count)
            ]
        else:
            doc["nodes"][0]["tags"] = [f"t{n}" for n in range(count)]
        return self._dump(doc)

    def _bytes(self, rng: random.Random) -> bytes:
        data = self._dump(self.base)
        how = rng.choice(("truncate", "flip", "invalid-utf8", "bom", "random", "empty", "scalar"))
        if how == "truncate":
            return data[: rng.randrange(len(data))]
        if how == "flip":
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            return bytes(flipped)
        if how == "invalid-utf8":
            at = rng.randrange(len(data))
            return data[:at] + rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf")) + data[at:]
        if how == "bom":
            return b"\xef\xbb\xbf" + data
        if how == "random":
            return rng.randbytes(rng.choice((1, 16, 4096)))
        if how == "empty":
            return b""
        return rng.choice((b"null", b"[]", b"0", b'"x"', b"true", str(math.pi).encode()))


def write(directory: Path, index: int, data: bytes) -> Path:
    path = directory / f"network-{index}.json"
    path.write_bytes(data)
    return path
