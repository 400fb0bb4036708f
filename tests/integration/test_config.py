"""Configuration sources and their precedence; the shipped files and the docs stay in step."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from server.cli.main import build_parser
from server.config import Config, ConfigError, config_from_args, load_config
from tests.integration.helpers import REPO


def test_defaults() -> None:
    config = Config()
    assert (config.port, config.database_url, config.metrics_port) == (50051, "sqlite:///var/oms-sourcing.db", 9464)
    assert (config.threads, config.solver_time_limit_ms, config.sample_network) == (
        2,
        2000,
        "data/sample-network.json",
    )


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('port = 1111\nthreads = 3\nlog_format = "json"\nreflection = true\n')
    env = {"OMS_SOURCING_PORT": "2222", "OMS_SOURCING_THREADS": "5", "OMS_SOURCING_REFLECTION": "off"}
    args = build_parser().parse_args(["serve", "--config", str(path), "--port", "3333"])
    config = config_from_args(args, env)
    assert config.port == 3333  # flag
    assert config.threads == 5 and config.reflection is False  # environment
    assert config.log_format == "json"  # file
    assert config.grace_seconds == Config().grace_seconds  # default


def test_boolean_flags_both_ways() -> None:
    on = config_from_args(build_parser().parse_args(["serve", "--reflection"]), {"OMS_SOURCING_REFLECTION": "0"})
    off = config_from_args(build_parser().parse_args(["serve", "--no-reflection"]), {"OMS_SOURCING_REFLECTION": "1"})
    assert on.reflection is True and off.reflection is False


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("prot = 1\n", {}, "unknown setting 'prot'"),
        ('port = "x"\n', {}, "port"),
        ("", {"OMS_SOURCING_WORKERS": "many"}, "OMS_SOURCING_WORKERS"),
        ("", {"OMS_SOURCING_PORT": "70000"}, "port must be 0-65535"),
        ('log_format = "xml"\n', {}, "log_format must be one of"),
        ("port = = 1\n", {}, "c.toml"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, content: str, env: dict[str, str], message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config({}, env, path)


@pytest.mark.parametrize("name", ["development.toml", "production.toml"])
def test_shipped_config_files_load(name: str) -> None:
    config = load_config({}, {}, REPO / "config" / name)
    assert config.reflection is (name == "development.toml")


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    for f in fields(Config):
        if f.metadata.get("file_only"):  # a table of the file ([[webhooks]]): no environment form
            assert f"[[{f.name}]]" in text, f.name
            continue
        assert f"`{f.name}`" in text and f"OMS_SOURCING_{f.name.upper()}" in text, f.name
