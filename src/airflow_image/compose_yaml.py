"""A small YAML writer for generated compose files: block style, stable order, anchors on request.

A general YAML library would serialise the same data, but not the way a person reads a compose file:
shell scripts as literal blocks, strings quoted only where YAML would misread them, and one shared
environment written once (`&anchor`) and merged into each service (`<<: *anchor`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

# A plain scalar that YAML 1.1 and 1.2 both read back as the same string.
_PLAIN = re.compile(r"^(-+[A-Za-z]|[A-Za-z_/.])[A-Za-z0-9_./@+-]*(:[A-Za-z0-9_./@+-]+)*$")
# Durations such as 10s or 500ms: never numbers, in either YAML version.
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
# YAML 1.1 readers (PyYAML, older compose) turn these into booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


class Anchored(dict):
    """A mapping written in full once, with `&anchor`, wherever it first appears."""

    def __init__(self, anchor: str, items: Mapping[str, object]) -> None:
        super().__init__(items)
        self.anchor = anchor


class Merged(dict):
    """`base` (an Anchored mapping written earlier) merged with `extra`: `<<: *base` plus extra keys.

    As a dict it holds the merged result, so code that reads the data sees what compose sees.
    """

    def __init__(self, base: Anchored, extra: Mapping[str, object]) -> None:
        super().__init__({**base, **extra})
        self.base = base
        self.extra = dict(extra)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} {value!r} as YAML")
    if (_PLAIN.match(value) and value.lower() not in _RESERVED) or _DURATION.match(value):
        return value
    # A JSON string is a valid YAML double-quoted scalar with the same meaning.
    return json.dumps(value, ensure_ascii=False)


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, got {key!r}")
    return _scalar(key)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.anchored: set[int] = set()

    def block(self, key_prefix: str, value: object, indent: int) -> None:
        """Writes `key_prefix` (e.g. `  name:` or `  -`) followed by value, on one or more lines."""
        pad = " " * indent
        if isinstance(value, Anchored) and id(value) in self.anchored:
            self.lines.append(f"{key_prefix} *{value.anchor}")
            return
        if isinstance(value, Mapping):
            head = key_prefix
            if isinstance(value, Anchored):
                self.anchored.add(id(value))
                head += f" &{value.anchor}"
            if not value:
                self.lines.append(f"{head} {{}}")
                return
            self.lines.append(head)
            self.mapping(value, indent)
        elif isinstance(value, str) and "\n" in value:
            if value[:1] in (" ", "\n"):
                raise ValueError(f"a multi-line string must not start with white space: {value[:20]!r}")
            chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
            self.lines.append(f"{key_prefix} |{chomp}")
            self.lines.extend(f"{pad}{line}".rstrip() for line in value.rstrip("\n").split("\n"))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if not value:
                self.lines.append(f"{key_prefix} []")
                return
            self.lines.append(key_prefix)
            for item in value:
                self.block(f"{pad}-", item, indent + 2)
        else:
            self.lines.append(f"{key_prefix} {_scalar(value)}")

    def mapping(self, value: Mapping, indent: int) -> None:
        pad = " " * indent
        if isinstance(value, Merged):
            if id(value.base) not in self.anchored:
                raise ValueError(f"merged mapping refers to &{value.base.anchor} before it is written")
            self.lines.append(f"{pad}<<: *{value.base.anchor}")
            value = value.extra
        for key, item in value.items():
            self.block(f"{pad}{_key(key)}:", item, indent + 2)


def dump_yaml(data: Mapping[str, object], *, header: Sequence[str] = ()) -> str:
    """YAML text for `data` (mappings, lists, strings, numbers, booleans), preceded by `# header` lines."""
    writer = _Writer()
    writer.lines.extend(f"# {line}".rstrip() for line in header)
    first = True
    for key, item in data.items():
        # A blank line between top-level sections, as people write compose files.
        if not first:
            writer.lines.append("")
        first = False
        writer.block(f"{_key(key)}:", item, 2)
    return "\n".join(writer.lines) + "\n"
