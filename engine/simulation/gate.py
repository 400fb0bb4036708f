"""``--fail-if`` thresholds: a CI gate on a simulation's KPIs.

``METRIC OP VALUE`` with OP one of ``>``, ``>=``, ``<``, ``<=``:

- ``cost_per_order>+1%``: the candidate's value is more than 1% above the baseline's;
- ``fill_rate<0``: a signed value without ``%`` compares the change (candidate − baseline),
  so this fails when the fill rate went down at all;
- ``decisions_changed>100`` / ``divergences>0``: counts, compared as they are;
- with a single side (no ``--compare`` and no ``--legacy``), the KPI's own value is compared.

The candidate is the ``--compare`` side, else the legacy side.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.simulation.kpis import KPI_NAMES, Kpis

COUNTS = ("decisions_changed", "divergences")
_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_PATTERN = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|>|<)\s*([+-]?[0-9]*\.?[0-9]+)\s*(%?)\s*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    op: str
    value: float
    percent: bool
    text: str

    @property
    def relative(self) -> bool:
        return self.percent


def parse_threshold(text: str) -> Threshold:
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"{text!r}: expected METRIC OP VALUE[%], e.g. 'cost_per_order>+1%' or 'fill_rate<0'")
    metric, op, value, percent = match.groups()
    if metric not in KPI_NAMES and metric not in COUNTS:
        known = ", ".join((*KPI_NAMES, *COUNTS))
        raise ValueError(f"{text!r}: unknown metric {metric!r}; known: {known}")
    if metric in COUNTS and percent:
        raise ValueError(f"{text!r}: {metric} is a count; compare it without %")
    return Threshold(metric, op, float(value), bool(percent), text.strip())


@dataclass(frozen=True, slots=True)
class Verdict:
    threshold: Threshold
    measured: float | None  # None: could not be measured (e.g. a % change over a zero baseline)
    failed: bool
    explanation: str


def check(threshold: Threshold, base: Kpis, candidate: Kpis | None, counts: Mapping[str, int]) -> Verdict:
    t = threshold
    compare = _OPS[t.op]
    if t.metric in COUNTS:
        measured: float | None = float(counts.get(t.metric, 0))
        what = t.metric
    elif candidate is None:
        measured = base.value(t.metric)
        what = t.metric
    else:
        before, after = base.value(t.metric), candidate.value(t.metric)
        if t.percent:
            measured = (after - before) / abs(before) * 100 if before else None
            what = f"change in {t.metric} (%)"
        else:
            measured = after - before
            what = f"change in {t.metric}"
    if measured is None:
        return Verdict(t, None, True, f"{t.text}: cannot compute a % change over a baseline of 0 (failing safe)")
    failed = compare(measured, t.value)
    verb = "FAIL" if failed else "ok"
    return Verdict(t, measured, failed, f"{verb}: {t.text} ({what} = {measured:+.4g})")
