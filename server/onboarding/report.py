"""Rejected rows: the report file a person fixes and imports again as it is, and the tally the
terminal summary is made of.

CSV input: the original columns, then ``line``, ``field``, ``reason`` (the reader drops those
three when the file comes back). JSON Lines input: the original object with a ``_rejected``
object holding the same three (dropped likewise). Rows are written as they are found, so a
report of a million rejects takes no memory.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from server.errors import ImportFileError
from server.onboarding.sources import CSV, REJECTED_KEY, REPORT_COLUMNS, SourceRow

Problem = tuple[str, str]
SHOWN_IN_TERMINAL = 20


@dataclass(slots=True)
class Tally:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # "field: reason" (ids left out) -> rows
    first: list[str] = field(default_factory=list)  # the first rejects, as the terminal shows them


class RejectReport:
    def __init__(self, path: str | None, fmt: str, header: list[str]) -> None:
        self.fmt = fmt
        self.header = header
        self.tally = Tally()
        self._handle: IO[str] | None = None
        self._csv: Any = None
        if path is not None:
            try:
                # surrogateescape: bytes that were not UTF-8 go back exactly as they came.
                self._handle = open(path, "w", encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
            except OSError as exc:
                raise ImportFileError(f"--report {path}: {exc.strerror}") from None
            if fmt == CSV:
                self._csv = csv.writer(self._handle, lineterminator="\n")
                self._csv.writerow([*header, *REPORT_COLUMNS])

    def reject(self, row: SourceRow, problems: list[Problem]) -> None:
        tally = self.tally
        tally.rejected += 1
        for name, reason in problems:
            tally.reasons[f"{name or '(row)'}: {_general(reason)}"] += 1
        fields = " ".join(dict.fromkeys(name for name, _ in problems if name))
        if len(problems) == 1:
            reason = problems[0][1]
        else:
            reason = "; ".join(f"{name}: {why}" if name else why for name, why in problems)
        if len(tally.first) < SHOWN_IN_TERMINAL:
            tally.first.append(f"line {row.line}: {fields + ': ' if len(problems) == 1 and fields else ''}{reason}")
        if self._handle is None:
            return
        if self.fmt == CSV:
            original = list(row.original) if isinstance(row.original, list) else []
            width = len(self.header)
            if len(original) > width:
                reason += f" (values past the last column: {', '.join(original[width:])[:200]})"
            self._csv.writerow([*(original + [""] * width)[:width], row.line, fields, reason])
        else:
            record: dict[str, Any] = dict(row.values) if row.values else {}
            if not record and isinstance(row.original, str):
                record = {"text": row.original}  # not an object: kept as text to be fixed by hand
            record[REJECTED_KEY] = {"line": row.line, "field": fields, "reason": reason}
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LINE = re.compile(r"\bline \d+")


def _general(reason: str) -> str:
    """A reason without the values it quotes, so that like problems add up in the summary."""
    return _LINE.sub("line N", _QUOTED.sub("...", reason))


def summary(tally: Tally, top: int = 10) -> list[str]:
    """The terminal's lines for the rejects: the commonest reasons, then the first rows."""
    lines = [f"{tally.rejected:,} of {tally.rows:,} row(s) rejected:"]
    for reason, count in tally.reasons.most_common(top):
        lines.append(f"  {count:>9,}  {reason}")
    if len(tally.reasons) > top:
        lines.append(f"  ... and {len(tally.reasons) - top} other reason(s)")
    lines.append("first rejected rows:")
    lines.extend(f"  {entry}" for entry in tally.first)
    return lines
