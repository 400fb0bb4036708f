"""CpuStretch: how much longer CPU-measured work takes on a busy machine, on the deadlines' clock."""

from __future__ import annotations

from unittest import mock

import pytest

from engine.optimizer import deadline as deadline_module
from engine.optimizer.deadline import MAX_STRETCH, CpuStretch


def stretch_after(clock_seconds: float, cpu_seconds: float) -> float:
    """The factor after ``clock_seconds`` on the deadlines' clock and ``cpu_seconds`` of CPU."""
    clock = iter([100.0, 100.0 + clock_seconds])
    cpu = iter([10.0, 10.0 + cpu_seconds])
    with (
        mock.patch.object(deadline_module.time, "perf_counter", lambda: next(clock)),
        mock.patch.object(deadline_module, "process_time", lambda: next(cpu)),
    ):
        return CpuStretch.start().factor()


def test_a_busy_machine_stretches_by_clock_over_cpu() -> None:
    assert stretch_after(9.0, 2.0) == pytest.approx(4.5)


def test_an_idle_machine_or_a_cpu_clock_does_not_stretch() -> None:
    assert stretch_after(2.0, 2.0) == 1.0
    assert stretch_after(1.9, 2.0) == 1.0  # never below 1: the reserve is never cut


def test_too_little_cpu_to_measure_and_extreme_ratios_are_bounded() -> None:
    assert stretch_after(5.0, 0.01) == 1.0
    assert stretch_after(1000.0, 1.0) == MAX_STRETCH
