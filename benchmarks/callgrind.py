"""Instruction counts of a benchmark's child process under valgrind's callgrind: immune to the
machine's noise, so phases and before/after compare exactly (docs/profiling.md)."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child_instructions(module: str, *child_args: str) -> int:
    """Instructions (callgrind's Ir) of the whole process ``python -m <module> --child ARGS``.
    PYTHONHASHSEED is fixed so that the same strings hash alike in every child."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", module, "--child", *child_args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


# Called between phases as a marker: callgrind dumps its counts before every call of it.
_MARKER = "zlib_crc32"


def mark_phase() -> None:
    """In a child run by ``phase_instructions``: the counts since the last mark end here."""
    zlib.crc32(b"phase")


def run_marked(calls: Sequence[Callable[[int], object]], count: int) -> None:
    """Each call over ``range(count)`` once to warm up, then each again after a mark, so that each
    phase's loop is one dump of its own, followed by a closing mark."""
    for call in calls:
        for i in range(count):
            call(i)
    for call in calls:
        mark_phase()
        for i in range(count):
            call(i)
    mark_phase()


def phase_instructions(module: str, *child_args: str) -> list[int]:
    """Instructions of each stretch between marks of ``python -m <module> --child ARGS`` (the first:
    start-up and warm-up), in order; PYTHONHASHSEED fixed as in ``child_instructions``."""
    with tempfile.TemporaryDirectory(prefix="phases_cg_") as out_dir:
        out = os.path.join(out_dir, "cg.out")
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--dump-before={_MARKER}",
            "--dump-instr=no", "--compress-strings=no", sys.executable, "-m", module, "--child", *child_args,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True, env=env)
        dumps = sorted(glob.glob(out + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
        return [dump_total(f) for f in dumps]


def dump_total(path: str) -> int:
    """The instructions a callgrind dump file counts (its ``summary:`` or ``totals:`` line)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            found = re.match(r"(?:summary|totals): (\d+)", line)
            if found:
                return int(found.group(1))
    raise RuntimeError(f"no totals in {path}")
