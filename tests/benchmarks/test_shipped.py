"""The benchmarks start their servers as the shipped configuration files would."""

from __future__ import annotations

import pytest

from benchmarks.shipped import pinned_as_shipped
from server.config import load_config
from tests.integration.helpers import REPO


@pytest.mark.parametrize("name", ["development", "production"])
def test_benchmark_servers_pin_cpus_as_the_shipped_file_with_that_many_workers(name: str) -> None:
    config = load_config(env={}, config_file=REPO / "config" / f"{name}.toml")
    expected = "--pin-cpus" if config.pin_cpus else "--no-pin-cpus"
    assert pinned_as_shipped(config.workers) == [expected]
