"""``--fail-if`` thresholds: a CI gate on a simulation's KPIs.

``METRIC OP VALUE`` with OP one of ``>``, ``>=``, ``<``, ``<=``:

- ``cost_per_order>+1%``: the candidate's value is more than 1% above the baseline's;
- ``fill_rate<0``: a signed value without ``%`` compares the change (candidate − baseline),
  so this fails when the fill rate went down at all;
- ``decisions_changed>100`` / ``divergences>0``: counts, compared as they are;
- the promise KPIs (``on_time_rate<0.95``, ``late_orders>0``, ``on_time_ship_rate<0.98``...;
  ``engine/simulation/on_time.GATED``) like the others; a side with nothing to measure them over
  (no promised order, no confirmed shipment) skips them;
- with a single side (no ``--compare`` and no ``--legacy``), the KPI's own value is compared.

The candidate is the ``--compare`` side, else the legacy side.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.simulation.kpis import KPI_NAMES, Kpis
from engine.simulation.on_time import GATED

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
    if metric not in KPI_NAMES and metric not in COUNTS and metric not in GATED:
        known = ", ".join((*KPI_NAMES, *GATED, *COUNTS))
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


# What a threshold allows, in words: ``>`` fails above the value, so the limit is "at most" it.
_LIMITS: Mapping[str, str] = {">": "at most", ">=": "below", "<": "at least", "<=": "above"}


def check(threshold: Threshold, base: Kpis, candidate: Kpis | None, counts: Mapping[str, int]) -> Verdict:
    """The measured value against the threshold, and a line that says which way it went and what is allowed:
    ``pass: cost_per_order change -0.16% (limit: at most +1%; --fail-if 'cost_per_order>+1%')``."""
    t = threshold
    source = f"--fail-if '{t.text}'"
    if t.metric not in COUNTS and (base.orders == 0 or (candidate is not None and candidate.orders == 0)):
        # A quiet window (a live report overnight) has nothing to gate: not a failure to alert on.
        return Verdict(t, None, False, f"skipped: {t.metric} not measured, no orders ({source})")
    if t.metric in GATED and any(k.promise.measured_over(t.metric) == 0 for k in (base, candidate) if k is not None):
        what = GATED[t.metric].replace("_", " ")
        return Verdict(t, None, False, f"skipped: {t.metric} not measured, no {what} ({source})")
    compare = _OPS[t.op]
    change = t.metric not in COUNTS and candidate is not None  # a change (signed), or a value of its own
    measured: float | None
    if t.metric in COUNTS:
        measured = float(counts.get(t.metric, 0))
    elif candidate is None:
        measured = base.value(t.metric)
    else:
        before, after = base.value(t.metric), candidate.value(t.metric)
        relative = (after - before) / abs(before) * 100 if before else None
        measured = relative if t.percent else after - before
    if measured is None:
        why = "a % change over a baseline of 0 cannot be measured (failing safe"
        return Verdict(t, None, True, f"FAIL: {t.metric}: {why}; {source})")
    failed = compare(measured, t.value)
    unit = "%" if t.percent else ""
    shown = f"change {_signed(measured)}{unit}" if change else f"{measured:.4g}"
    limit = f"{_signed(t.value)}{unit}" if change else f"{t.value:.4g}"
    verb = "FAIL" if failed else "pass"
    return Verdict(t, measured, failed, f"{verb}: {t.metric} {shown} (limit: {_LIMITS[t.op]} {limit}; {source})")


def _signed(value: float) -> str:
    return f"{value:+.4g}" if value else "0"
