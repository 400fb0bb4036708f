"""One exception hierarchy: every exception the product defines derives from SourcingError, and
every one a caller can meet over gRPC is a row of the status table and documented in docs/errors.md."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import engine
import server
from engine.errors import SourcingError
from server.api.status import TABLE

DOCS = Path(__file__).parents[1] / "docs" / "errors.md"


def _product_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (engine, server):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".generated" in info.name or info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                    and not name.startswith("_")
                ):
                    found[f"{value.__module__}.{name}"] = value
    return [found[k] for k in sorted(found)]


def test_every_product_exception_is_a_sourcing_error() -> None:
    exceptions = _product_exceptions()
    assert len(exceptions) > 20  # the walk found the modules
    outside = [f"{e.__module__}.{e.__name__}" for e in exceptions if not issubclass(e, SourcingError)]
    assert outside == []


def test_every_exception_is_documented_and_every_status_row_too() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [e.__name__ for e in _product_exceptions() if f"`{e.__name__}`" not in text]
    assert missing == []
    assert [row.exception.__name__ for row in TABLE if f"`{row.exception.__name__}`" not in text] == []
