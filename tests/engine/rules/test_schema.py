"""rules/schema.json (for editors) names every key the loader accepts, and no other."""

from __future__ import annotations

import json
from pathlib import Path

from engine.rules.facts import LINE_FIELDS, ORDER_FIELDS, SHIP_TO_FIELDS
from engine.rules.loader import RULE_KEYS
from engine.rules.verb_reader import VERBS

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "rules" / "schema.json").read_text())


def _props(name: str) -> set[str]:
    return set(SCHEMA["$defs"][name]["properties"])


def test_schema_keys_match_the_loader() -> None:
    assert _props("rule") == set(RULE_KEYS)
    assert _props("then") == set(VERBS)
    when = SCHEMA["$defs"]["when"]["properties"]
    assert set(when) == {"order", "customer", "ship_to", "line", "date"}
    assert set(when["order"]["properties"]) == {*ORDER_FIELDS, "attributes"}
    assert set(when["line"]["properties"]) == {*LINE_FIELDS, "attributes"}
    assert set(when["ship_to"]["properties"]) == set(SHIP_TO_FIELDS)
    assert _props("selector") == {"type", "tag", "id", "region", "distance", "not"}
    assert _props("document") == {"format", "currency", "rates", "rules"}
