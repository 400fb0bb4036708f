"""YAML text to plain values that remember their line, so every error can name one.

``parse`` builds the values itself from libyaml's event stream, with an explicit stack: PyYAML's
composer recurses in C (a few tens of thousands of nested brackets overflow the C stack and kill
the process), and it would expand an alias bomb (a few hundred bytes, billions of values) in
full. Here the bounds of engine/limits.py are checked while reading, before anything grows past
them: nesting depth, and values counted as an alias expands them (an alias is the same object
as its anchor, but whoever walks the result walks every repetition). Exceeding one raises
LimitError at once; libyaml reads no further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import yaml

from engine import limits
from engine.errors import SourcingError


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


class YamlError(SourcingError, ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class LimitError(YamlError):
    """The text breaks one of the bounds on rule files (engine/limits.py): refused, not read on."""


# libyaml's parser when present (~10x faster); it produces events iteratively, whatever the nesting.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Events(Protocol):
    """What ``parse`` uses of a PyYAML loader (its stubs leave these untyped)."""

    constructed_objects: dict[Any, Any]

    def get_event(self) -> yaml.Event: ...
    def peek_event(self) -> yaml.Event: ...
    def check_event(self, *choices: type[yaml.Event]) -> bool: ...
    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str: ...
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any: ...
    def dispose(self) -> None: ...


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class _Open:
    """A mapping or list being read: its values so far, and for a mapping the key awaiting a value."""

    __slots__ = ("anchor", "count_before", "items", "key", "line")

    def __init__(self, items: dict[str, Located] | list[Located], line: int, anchor: str | None, count: int) -> None:
        self.items = items
        self.line = line
        self.anchor = anchor
        self.count_before = count
        self.key: Located | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed file: its top value, and the values read so far (``values_before`` included)."""

    root: Located
    values: int


def parse(
    text: str,
    max_depth: int = limits.MAX_RULE_DEPTH,
    max_values: int = limits.MAX_RULE_SET_VALUES,
    values_before: int = 0,
) -> Document:
    """The document as Located values. YamlError on bad syntax, duplicate keys, non-text keys or
    merge keys (``<<``); LimitError when the text passes MAX_RULE_FILE_BYTES, nesting passes
    ``max_depth``, or ``values_before`` (earlier files of the set) and this file's values, each
    alias counted as the values it repeats, pass ``max_values``. Never anything else, whatever
    the text: this is the one entry point for YAML a caller sends (and for fuzzing it)."""
    if len(text) > limits.MAX_RULE_FILE_BYTES:  # never fewer bytes than characters: refused unencoded
        raise LimitError(1, f"is larger than the limit of {limits.MAX_RULE_FILE_BYTES:,} bytes")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: only a caller in Python can send one
        raise YamlError(text.count("\n", 0, e.start) + 1, "is not valid Unicode text") from None
    if len(data) > limits.MAX_RULE_FILE_BYTES:
        raise LimitError(1, f"is {len(data):,} bytes, more than the limit of {limits.MAX_RULE_FILE_BYTES:,}")
    loader = cast(_Events, _Loader(data))
    try:
        reader = _Reader(loader, max_depth, max_values, values_before)
        return Document(reader.document(), reader.count)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"YAML syntax: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YamlError(1, f"YAML: {e}") from None
    finally:
        loader.dispose()


class _Reader:
    def __init__(self, loader: _Events, max_depth: int, max_values: int, values_before: int) -> None:
        self.loader = loader
        self.max_depth = max_depth
        self.max_values = max_values
        self.count = values_before  # values so far, aliases expanded
        self.anchors: dict[str, tuple[Located, int]] = {}  # name -> (value, values it holds)
        self.stack: list[_Open] = []
        self.root: Located | None = None

    def document(self) -> Located:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return Located(None, 1)
        loader.get_event()  # document start
        while self.root is None:
            self.step(loader.get_event())
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            line = _line(loader.peek_event())
            raise YamlError(line, "YAML syntax: a rule file holds one document; another starts here")
        return self.root

    def step(self, event: yaml.Event) -> None:
        line = _line(event)
        if isinstance(event, yaml.ScalarEvent):
            value = Located(self.scalar(event, line), line)
            self.counted(1, line)
            self.remember(event.anchor, value, 1, line)
            self.place(value, event)
        elif isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            if name not in self.anchors:
                opened = any(o.anchor == name for o in self.stack)
                why = "refers to the value it is part of" if opened else "names no anchor defined before it"
                raise YamlError(line, f"YAML: alias *{name} {why}")
            value, size = self.anchors[name]
            self.counted(size, line)
            self.place(value, event)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(self.stack) >= self.max_depth:
                raise LimitError(line, f"nests deeper than the limit of {self.max_depth} levels")
            self.counted(1, line)
            items: dict[str, Located] | list[Located] = [] if isinstance(event, yaml.SequenceStartEvent) else {}
            self.stack.append(_Open(items, line, event.anchor, self.count - 1))
        elif isinstance(event, _END):
            done = self.stack.pop()
            value = Located(done.items, done.line)
            self.remember(done.anchor, value, self.count - done.count_before, done.line)
            self.place(value, event)
        else:  # libyaml sends nothing else inside a document
            raise YamlError(line, f"YAML: unexpected {type(event).__name__}")

    def scalar(self, event: yaml.ScalarEvent, line: int) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR:  # most values: text as written, no constructor needed
            return event.value
        if tag == _MERGE and self.stack and isinstance(self.stack[-1].items, dict) and self.stack[-1].key is None:
            raise YamlError(line, "merge keys (<<) are not supported: write the keys out")
        start: Any = event.start_mark  # libyaml's marks serve as PyYAML's
        node = yaml.ScalarNode(tag, event.value, start, start, style=event.style)
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as e:  # e.g. an integer of more than 4,300 digits
            raise YamlError(line, f"cannot read the value {event.value[:40]!r}: {str(e).split(';')[0]}") from None
        finally:
            self.loader.constructed_objects.clear()  # its cache of nodes read: nothing to share here

    def counted(self, values: int, line: int) -> None:
        self.count += values
        if self.count > self.max_values:
            raise LimitError(
                line, f"passes the limit of {self.max_values:,} values in a rule set (an alias counts what it repeats)"
            )

    def remember(self, anchor: str | None, value: Located, size: int, line: int) -> None:
        if anchor is None:
            return
        if anchor in self.anchors:
            raise YamlError(line, f"YAML: anchor &{anchor} is defined twice")
        self.anchors[anchor] = (value, size)

    def place(self, value: Located, event: yaml.Event) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.items, list):
            top.items.append(value)
        elif top.key is None:
            # A key's line: where the key starts (an alias key: where the alias is).
            line = value.line if isinstance(event, _END) else _line(event)
            if not isinstance(value.value, str):
                raise YamlError(line, f"key {_shown(value.value)} must be text")
            if value.value in top.items:
                raise YamlError(line, f"duplicate key {value.value!r}")
            top.key = value
        else:
            top.items[top.key.value] = value
            top.key = None


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return "{...}" if isinstance(value, dict) else "[...]"
    return repr(value)
