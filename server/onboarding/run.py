"""One import, end to end: read, map, check, report, and write (or, for a dry run, not).

The file is read once per attempt, in batches of ``BATCH_ROWS``; each batch's checks that need
the store (unknown node, unknown SKU) ask it once per batch. A real run hands the batches to the
store's bulk import, which writes them all in ONE transaction: rejected rows make the batches
raise RowsRejected at the end (after the whole file was checked and reported), which rolls the
transaction back, unless ``accept_partial`` (then the good rows are written and the bad ones are
in the report). Nothing of a file is ever half-written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from server.errors import ImportFileError, RowsRejected
from server.onboarding.catalogue import CatalogueLookup, in_base_units, unknown_sku_problem
from server.onboarding.mapping import FieldMapping
from server.onboarding.read_ahead import ReadAhead
from server.onboarding.records import KINDS, CountRow, Kind, Problem
from server.onboarding.report import RejectReport, Tally
from server.onboarding.seen import SeenKeys
from server.onboarding.sources import CSV, SourceRow, detect_format, read_csv, read_jsonl
from server.store.base import ImportedCounts, ImportStore, InventoryUpdate

BATCH_ROWS = 5_000  # a batch's rows, objects and one keyed SELECT: bounded memory, few round trips
Progress = Callable[[int], None]  # bytes read since the last call


@dataclass(frozen=True, slots=True)
class ImportOptions:
    kind: str  # nodes, items, inventory (orders: orders.py)
    path: str
    mapping: FieldMapping = field(default_factory=FieldMapping)
    format: str | None = None
    dry_run: bool = False
    accept_partial: bool = False
    report_path: str | None = None
    as_of: datetime | None = None  # counts without an as_of column: default the file's modification time


@dataclass(slots=True)
class ImportResult:
    tally: Tally
    written: ImportedCounts | None  # None for a dry run or a refused file
    as_of: datetime | None
    ignored_columns: list[str]


def default_as_of(path: str) -> datetime:
    """When the export was made, as far as the file tells: its modification time. The same file
    imported again carries the same time, so it changes nothing (docs/onboarding.md)."""
    return datetime.fromtimestamp(os.stat(path).st_mtime, UTC).replace(microsecond=0)


def open_source(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None


class RowSource:
    """An import file opened for one pass: its format, the rows, how columns map to fields, and
    the report its rejects go to."""

    def __init__(self, options: ImportOptions, fields: Mapping[str, str]) -> None:
        self.options = options
        self.fields = fields
        self.fmt = detect_format(options.path, options.format or options.mapping.format)
        self.handle = open_source(options.path)
        header: list[str] = []
        try:
            if self.fmt == CSV:
                header, self.rows = read_csv(self.handle, options.path, options.mapping.delimiter)
                self.targets = options.mapping.targets(header, fields)
                self.ignored = [c for c in header if c not in self.targets]
            else:
                self.rows = read_jsonl(self.handle, options.path)
                self.targets = {}
                self.ignored = []
            self.report = RejectReport(options.report_path, self.fmt, header)
        except BaseException:
            self.handle.close()
            raise

    def mapped(self, row: SourceRow) -> tuple[dict[str, Any], list[Problem]]:
        """The row's fields after the mapping, and what was wrong reading or mapping it."""
        if row.problem:
            return {}, [row.problem]
        values = row.values if self.fmt == CSV else _flatten(row.values)
        targets = self.targets if self.fmt == CSV else self.options.mapping.row_targets(values, self.fields)
        return self.options.mapping.apply(values, targets, self.fields)

    def close(self) -> None:
        self.handle.close()
        self.report.close()


class _Attempt(RowSource):
    """One pass over the file: rows read, mapped, checked; rejects reported; good rows batched."""

    def __init__(self, options: ImportOptions, store: ImportStore, progress: Progress) -> None:
        self.kind: Kind = KINDS[options.kind]
        super().__init__(options, self.kind.fields)
        self.store = store
        self.progress = progress
        self.as_of = options.as_of or (default_as_of(options.path) if options.kind == "inventory" else None)
        self.seen = SeenKeys()
        self.catalogue = CatalogueLookup(store)
        self.read_ahead: ReadAhead | None = None
        self._position = 0
        self._rejects: list[tuple[SourceRow, list[Problem]]] = []  # a batch's, reported in line order

    def close(self) -> None:
        if self.read_ahead is not None:
            self.read_ahead.stop()  # before the file and the scratch database close under it
        super().close()
        self.seen.close()

    def batches_read_ahead(self) -> Iterator[list[Any]]:
        self.read_ahead = ReadAhead(self.batches())
        return iter(self.read_ahead)

    def batches(self) -> Iterator[list[Any]]:
        """The good rows in batches; after the last, RowsRejected when rows were rejected and the
        run is real and not ``accept_partial`` (once a row is rejected no batch is handed on:
        the transaction will be rolled back anyway)."""
        pending: list[SourceRow] = []
        for row in self.rows:
            pending.append(row)
            if len(pending) >= BATCH_ROWS:
                yield from self._checked(pending)
                pending = []
        if pending:
            yield from self._checked(pending)
        self._advance()
        tally = self.report.tally
        if tally.rejected and not self.options.accept_partial and not self.options.dry_run:
            raise RowsRejected(tally.rejected)

    def _checked(self, rows: Sequence[SourceRow]) -> Iterator[list[Any]]:
        good = self.check(rows)
        self._advance()
        writing = self.options.accept_partial or not self.report.tally.rejected
        if good and writing and not self.options.dry_run:
            yield good

    def _advance(self) -> None:
        position = self.handle.tell()
        self.progress(position - self._position)
        self._position = position

    def check(self, rows: Sequence[SourceRow]) -> list[Any]:
        """The batch's good objects (in file order); every bad row reported."""
        tally = self.report.tally
        built: list[tuple[SourceRow, Any]] = []
        for row in rows:
            tally.rows += 1
            obj = None
            record, problems = self.mapped(row)
            if not problems:
                obj, problems = self.kind.build(record, self.as_of)
            if problems or obj is None:
                self._rejects.append((row, problems or [("", "could not be read")]))
            else:
                built.append((row, obj))
        built = self._without_unknown(built)
        if self.kind.catalogue:
            built = self._in_catalogue(built)
        built = self._without_repeats(built)
        for row, problems in sorted(self._rejects, key=lambda entry: entry[0].line):  # the report in file order
            self.report.reject(row, problems)
        self._rejects.clear()
        tally.accepted += len(built)
        return [obj for _, obj in built]

    def _without_repeats(self, built: list[tuple[SourceRow, Any]]) -> list[tuple[SourceRow, Any]]:
        repeats = self.seen.first_lines([(self.kind.key(obj), row.line) for row, obj in built])
        if not repeats:
            return built
        what = "position (node_id, sku)" if self.kind.name == "inventory" else "id"
        field_name = {"nodes": "id", "items": "sku", "inventory": "sku"}[self.kind.name]
        kept = []
        for row, obj in built:
            if row.line in repeats:
                self._rejects.append((row, [(field_name, f"repeats the {what} of line {repeats[row.line]}")]))
            else:
                kept.append((row, obj))
        return kept

    def _without_unknown(self, built: list[tuple[SourceRow, Any]]) -> list[tuple[SourceRow, Any]]:
        for field_name, table, value in self.kind.references:
            known = self.store.known_ids(table, sorted({value(obj) for _, obj in built}))
            kept = []
            for row, obj in built:
                if value(obj) in known:
                    kept.append((row, obj))
                else:
                    noun = "node" if table == "nodes" else "SKU"
                    self._rejects.append((row, [(field_name, f"unknown {noun} {value(obj)[:60]!r}")]))
            built = kept
        return built

    def _in_catalogue(self, built: list[tuple[SourceRow, CountRow]]) -> list[tuple[SourceRow, Any]]:
        """Counts with catalogue SKUs (aliases resolved) in base units (units converted)."""
        skus = self.catalogue.skus(c.update.sku for _, c in built)
        factors = self.catalogue.factors(skus[c.update.sku] for _, c in built if c.unit and c.update.sku in skus)
        kept: list[tuple[SourceRow, Any]] = []
        for row, count in built:
            update = count.update
            sku = skus.get(update.sku)
            if sku is None:
                self._rejects.append((row, [("sku", unknown_sku_problem(update.sku))]))
                continue
            quantity, problem = in_base_units(update.quantity, count.unit, factors.get(sku, {}))
            if quantity is None:
                self._rejects.append((row, [("unit", problem)]))
                continue
            if sku != update.sku or quantity != update.quantity:  # most rows: as they came
                update = InventoryUpdate(update.node_id, sku, update.kind, quantity, update.as_of)
            kept.append((row, update))
        return kept


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A JSON object's nested objects as dotted fields (``attributes.color``), as CSV columns are."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def run_import(options: ImportOptions, store: ImportStore, progress: Progress = lambda n: None) -> ImportResult:
    """Check (and unless ``dry_run``, write) one file. ``written`` is None when nothing was
    written (a dry run, or rows rejected without ``accept_partial``); ImportFileError when the
    file cannot be read as a whole."""
    if options.kind not in KINDS:
        raise ImportFileError(f"cannot import {options.kind!r}: one of {', '.join(KINDS)} (orders: see orders.py)")
    attempts: list[_Attempt] = []

    def batches() -> Iterator[list[Any]]:
        # A transaction the database asks to retry reads the file again, report and all.
        if attempts:
            attempts[-1].close()
        attempts.append(_Attempt(options, store, progress))
        return attempts[-1].batches() if options.dry_run else attempts[-1].batches_read_ahead()

    try:
        if options.dry_run:
            for _ in batches():
                pass
            written = None
        elif options.kind == "nodes":
            written = store.import_nodes(batches)
        elif options.kind == "items":
            written = store.import_items(batches)
        else:
            written = store.import_counts(batches, datetime.now(UTC))
    except RowsRejected:
        written = None  # rolled back: the report says why
    finally:
        for attempt in attempts:
            attempt.close()
    last = attempts[-1]
    return ImportResult(last.report.tally, written, last.as_of, last.ignored)
