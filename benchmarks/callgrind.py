"""Instruction counts of a benchmark's child process under valgrind's callgrind: immune to the
machine's noise, so phases and before/after compare exactly (docs/profiling.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
