"""Rows of a CSV or JSON Lines file, one at a time, in bounded memory.

A file is read line by line with a bounded ``readline``: a line past ``MAX_LINE_BYTES`` stops
the import with ImportFileError naming it (no row can be found in it). Bytes that are not UTF-8
make their row a rejected one, kept as they came so the report gives them back unchanged.
A row of the wrong column count, malformed JSON or a JSON value that is not an object is a
rejected row too; the file goes on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from server.errors import ImportFileError

MAX_LINE_BYTES = 1 << 20  # a stock row is ~50 bytes; an ERP's widest order line some kilobytes
CSV, JSONL = "csv", "jsonl"
FORMATS = (CSV, JSONL)
# The columns a rejects report adds (report.py): a report re-imported as is reads without them.
REPORT_COLUMNS = ("line", "field", "reason")
REJECTED_KEY = "_rejected"  # the same for a JSON Lines report: the key holding line, field, reason


@dataclass(slots=True)
class SourceRow:
    """One row as read: ``values`` by column (CSV: strings; JSON Lines: JSON values), or the
    ``problem`` that kept it from being read (``values`` then holds what could be)."""

    line: int  # the file line the row starts on, 1-based (a CSV's header is line 1)
    values: dict[str, Any]
    original: list[str] | str  # CSV: the fields as read; JSON Lines: the line's text
    problem: tuple[str, str] | None = None  # (field or "", reason)
    extra: dict[str, Any] = field(default_factory=dict)


def detect_format(path: str, given: str | None) -> str:
    if given:
        if given not in FORMATS:
            raise ImportFileError(f"--format must be one of {', '.join(FORMATS)}, not {given!r}")
        return given
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return CSV
    if suffix in (".jsonl", ".ndjson", ".json"):
        return JSONL
    raise ImportFileError(
        f"{path}: cannot tell the format from {suffix or 'no extension'!r}; give --format csv or jsonl"
    )


def _lines(handle: IO[bytes], source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) with the line break kept; undecodable bytes kept as surrogate escapes."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise ImportFileError(f"{source}: line {number} is longer than {MAX_LINE_BYTES:,} bytes")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark, as some Windows tools write
        yield number, raw.decode("utf-8", "surrogateescape")


def undecodable(text: str) -> int | None:
    """The offset of the first byte that was not UTF-8 (read as a surrogate escape), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def read_csv(handle: IO[bytes], source: str, delimiter: str = ",") -> tuple[list[str], Iterator[SourceRow]]:
    """The header's columns and the rows after it."""
    lines = _lines(handle, source)
    current = [0]

    def text() -> Iterator[str]:
        for number, line in lines:
            current[0] = number
            yield line

    reader = csv.reader(text(), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{source}: is empty; a CSV import needs a header line naming its columns") from None
    except csv.Error as exc:
        raise ImportFileError(f"{source}: line 1: the header is not CSV ({exc})") from None
    header = [name.strip() for name in header]
    if undecodable("".join(header)) is not None:
        raise ImportFileError(f"{source}: line 1: the header is not UTF-8 text")
    if len(header) >= len(REPORT_COLUMNS) and tuple(header[-len(REPORT_COLUMNS) :]) == REPORT_COLUMNS:
        data_columns = len(header) - len(REPORT_COLUMNS)  # a rejects report, fixed and fed back
    else:
        data_columns = len(header)
    duplicates = sorted({name for name in header[:data_columns] if header[:data_columns].count(name) > 1})
    if duplicates:
        raise ImportFileError(f"{source}: line 1: the header names {', '.join(map(repr, duplicates))} more than once")
    return header[:data_columns], _csv_rows(reader, header, data_columns, current)


def _csv_rows(reader: Any, header: list[str], data_columns: int, current: list[int]) -> Iterator[SourceRow]:
    start = 1
    while True:
        start = current[0] + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # csv's state after an error is the next line's: the bad row is reported and skipped.
            yield SourceRow(start, {}, [], ("", f"is not valid CSV ({exc})"))
            continue
        if not fields:
            continue  # a blank line
        row = SourceRow(start, {}, fields)
        if len(fields) not in (data_columns, len(header)):
            row.problem = ("", f"has {len(fields)} columns; the header has {data_columns}")
            yield row
            continue
        row.values = dict(zip(header[:data_columns], fields, strict=False))
        if not "".join(fields).isascii():  # non-ASCII is rare: then look closer
            for name, value in row.values.items():
                at = undecodable(value)
                if at is not None:
                    row.problem = (name, f"is not UTF-8 text (a bad byte at character {at + 1})")
                    break
        yield row


def read_jsonl(handle: IO[bytes], source: str) -> Iterator[SourceRow]:
    for number, line in _lines(handle, source):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        at = undecodable(text)
        if at is not None:
            yield SourceRow(number, {}, text, ("", f"is not UTF-8 text (a bad byte at character {at + 1})"))
            continue
        try:
            value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            yield SourceRow(number, {}, text, ("", f"is not JSON: {exc.msg} at column {exc.colno}"))
            continue
        except (ValueError, RecursionError) as exc:
            yield SourceRow(number, {}, text, ("", f"is not JSON this import can take: {str(exc)[:80]}"))
            continue
        if not isinstance(value, dict):
            yield SourceRow(number, {}, text, ("", f"must be a JSON object, not {type(value).__name__}"))
            continue
        value.pop(REJECTED_KEY, None)  # a rejects report, fixed and fed back
        yield SourceRow(number, value, text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key[:40]!r} appears more than once")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
