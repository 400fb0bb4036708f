"""``oms-sourcing import nodes|items|inventory|orders FILE``: onboarding from CSV and JSON Lines
exports (docs/onboarding.md).

Exit codes: 0 written (or a clean dry run); 1 rows rejected (nothing written, unless
``--accept-partial``; a dry run that found any); 2 a file that cannot be read as a whole.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from server.cli.progress import progress_bar
from server.config import load_config
from server.errors import ImportFileError, UsageError
from server.onboarding.catalogue import CatalogueLookup
from server.onboarding.mapping import load_mapping
from server.onboarding.orders import import_orders
from server.onboarding.report import Tally, summary
from server.onboarding.run import ImportOptions, run_import
from server.onboarding.sources import CSV, detect_format
from server.store.base import Store, import_store

KINDS = ("nodes", "items", "inventory", "orders")


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "import",
        help="import nodes, items, stock counts or orders from CSV or JSON Lines",
        description="Check every row of an export as the network file and the Upsert RPCs do, report every "
        "rejected row (terminal and a file that re-imports as it is), and write the file whole or not at all "
        "(docs/onboarding.md). Orders become an order-history file for `simulate run`.",
    )
    parser.add_argument("kind", choices=KINDS, help="what the file holds")
    parser.add_argument("file", metavar="FILE", help="a .csv or .jsonl export")
    parser.add_argument("--mapping", metavar="MAP", help="TOML mapping file: columns, constants, transforms")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="the file's format (default: by its extension)")
    parser.add_argument("--dry-run", action="store_true", help="check the whole file and write nothing")
    parser.add_argument("--accept-partial", action="store_true", help="write the good rows even when some are rejected")
    parser.add_argument(
        "--report", metavar="FILE", help="where the rejected rows go (default: FILE.rejects.csv/.jsonl beside it)"
    )
    parser.add_argument(
        "--as-of", metavar="TIME", help="inventory: when the counts were taken (default: the file's mtime)"
    )
    parser.add_argument("--out", metavar="FILE", help="orders: the order-history file to write")
    parser.add_argument("--database", help="store URL (default: the settings' database_url)")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file to take database_url from")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_import)


def _default_report(path: str, fmt: str) -> str:
    p = Path(path)
    return str(p.with_name(f"{p.stem}.rejects.{'csv' if fmt == CSV else 'jsonl'}"))


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of: not an ISO 8601 time: {text!r}") from None
    if when.tzinfo is None:
        raise UsageError("--as-of: give a UTC offset, e.g. 2026-12-07T06:00:00Z")
    return when.astimezone(UTC)


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    mapping = load_mapping(args.mapping)
    fmt = detect_format(args.file, args.format or mapping.format)
    report = args.report or _default_report(args.file, fmt)
    if os.path.abspath(report) == os.path.abspath(args.file):
        raise UsageError("--report names the file being imported: the report would overwrite it")
    options = ImportOptions(
        kind=args.kind, path=args.file, mapping=mapping, format=fmt, dry_run=args.dry_run,
        accept_partial=args.accept_partial, report_path=report, as_of=_as_of(args.as_of),
    )  # fmt: skip
    try:
        size = os.stat(args.file).st_size
    except OSError as exc:
        raise ImportFileError(f"{args.file}: {exc.strerror}") from None
    bar = progress_bar(size, unit="B", desc=f"import {args.kind}") if not args.no_progress else None
    closed = False

    def finish_bar() -> None:  # before the summary, which would otherwise print over the bar
        nonlocal closed
        if bar is not None and not closed:
            closed = True
            bar(0, close=True)

    config = load_config({"database_url": args.database}, dict(os.environ), args.config)
    from server.store import open_store

    store = open_store(config.database_url)
    try:
        if store.schema_version() == 0:
            raise UsageError(f"the store at {config.database_url} has no schema: run `oms-sourcing migrate` first")
        return _run(args, options, store, out, bar or (lambda n: None), finish_bar)
    finally:
        finish_bar()
        store.close()
        if not args.report and os.path.exists(report) and _rejected_none(report, fmt):
            os.unlink(report)  # a default report with no row in it is noise


def _rejected_none(report: str, fmt: str) -> bool:
    with open(report, "rb") as handle:
        lines = sum(1 for _ in handle)
    return lines <= (1 if fmt == CSV else 0)


def _run(
    args: argparse.Namespace,
    options: ImportOptions,
    store: Store,
    out: TextIO,
    progress: Callable[[int], None],
    finish_bar: Callable[[], None],
) -> int:
    name = Path(args.file).name
    if args.kind == "orders":
        result = import_orders(options, args.out, store.get_items, CatalogueLookup(import_store(store)), progress)
        finish_bar()
        _print_head(out, args.kind, name, options, result.tally, result.ignored_columns, None)
        if options.dry_run:
            print(f"dry run: {result.orders:,} order(s) would be written; nothing written", file=out)
        elif result.written:
            print(f"written: {result.orders:,} order(s) to {args.out} (an order history for `simulate run`)", file=out)
        else:
            print(
                f"nothing written: {result.tally.rejected:,} row(s) rejected (--accept-partial writes the rest)",
                file=out,
            )
        return 1 if result.tally.rejected and not (result.written and options.accept_partial) else 0
    imported = run_import(options, import_store(store), progress)
    finish_bar()
    _print_head(out, args.kind, name, options, imported.tally, imported.ignored_columns, imported.as_of)
    tally = imported.tally
    if options.dry_run:
        print(f"dry run: {tally.accepted:,} row(s) would be imported; nothing written", file=out)
    elif imported.written is None:
        print(
            f"nothing written: {tally.rejected:,} row(s) rejected; fix them in the report and import it, "
            "or --accept-partial to write the good rows",
            file=out,
        )
    else:
        w = imported.written
        print(
            f"written: {w.written:,} changed, {w.unchanged:,} unchanged, {w.stale:,} older than the stored count",
            file=out,
        )
    return 1 if tally.rejected and (imported.written is None or not options.accept_partial) else 0


def _print_head(
    out: TextIO, kind: str, name: str, options: ImportOptions, tally: Tally, ignored: list[str], as_of: datetime | None
) -> None:
    print(f"import {kind}: {tally.rows:,} row(s) read from {name}", file=out)
    if as_of is not None:
        source = "--as-of" if options.as_of else "the file's modification time"
        print(f"counts as of {as_of.isoformat().replace('+00:00', 'Z')} ({source})", file=out)
    if ignored:
        print(f"columns not imported: {', '.join(ignored)}", file=out)
    if tally.rejected:
        for line in summary(tally):
            print(line, file=out)
        print(
            f"report: {options.report_path} (the rejected rows with line, field, reason; fix and import it as is)",
            file=out,
        )
    sys.stdout.flush()
