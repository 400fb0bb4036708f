"""YAML text to plain values that remember their line, so every error can name one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed value and the 1-based line it starts on. Mappings and lists hold Located values."""

    value: Any  # dict[str, Located] | list[Located] | a scalar (str, int, float, bool, date, None)
    line: int

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


class YamlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# libyaml's loader when present: ~10x faster, and its nodes carry the same line marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Located:
    """The document as Located values; YamlError on bad syntax, duplicate keys or non-text keys."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return Located(None, 1)
            return _convert(loader, node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"YAML syntax: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YamlError(1, f"YAML: {e}") from None


def _convert(loader: yaml.SafeLoader, node: yaml.Node) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Located] = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise YamlError(key_node.start_mark.line + 1, f"key {key!r} must be text")
            if key in out:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _convert(loader, value_node)
        return Located(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Located([_convert(loader, item) for item in node.value], line)
    return Located(loader.construct_object(node, deep=True), line)
