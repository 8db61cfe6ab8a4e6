"""values.schema.json, generated from the documented chart/values.yaml.

values.yaml is the one place a value is declared: its default gives the JSON type, the comment block
right above it gives the description, and optional lines in that block refine the schema:

- ``# @schema {...}``: JSON-schema keywords merged into the key's schema (they win over inferred ones);
- ``# @passthrough``: the key is a Kubernetes object (a securityContext, resources...) whose default
  does not list every allowed field, so the schema checks only that it is an object.

Objects the chart defines (non-empty defaults) reject unknown keys; an empty ``{}`` default is a
free-form map (labels, resources, affinity...). Integers are non-negative unless told otherwise.

Run ``python -m airflow_image.chart.values_schema [ROOT]`` to regenerate the schema and the values
reference (docs/chart/values.md).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")
_LIST_LINE = re.compile(r"^(?P<indent>\s*)- ")


@dataclass
class KeyDoc:
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict)
    passthrough: bool = False


def parse_key_docs(text: str, *, source: str = "values.yaml") -> dict[tuple[str, ...], KeyDoc]:
    """Key path -> the comment block right above that key.

    A blank line ends a block, so section comments separated by one do not document the next key.
    Mapping keys nested inside list items belong to the list's value and are not documented.
    """
    docs: dict[tuple[str, ...], KeyDoc] = {}
    pending: list[str] = []
    stack: list[tuple[int, str]] = []
    list_indent: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped[1:].strip())
            continue
        indent = len(line) - len(line.lstrip())
        if list_indent is not None and indent > list_indent:
            pending = []
            continue
        list_indent = None
        if _LIST_LINE.match(line):
            list_indent = indent
            pending = []
            continue
        match = _KEY_LINE.match(line)
        if not match:
            pending = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(key for _, key in stack), match["key"])
        docs[path] = _key_doc(pending, path, f"{source}:{number}")
        pending = []
        stack.append((indent, match["key"]))
    return docs


def _key_doc(lines: list[str], path: tuple[str, ...], where: str) -> KeyDoc:
    doc = KeyDoc()
    words: list[str] = []
    for line in lines:
        if line.startswith("@schema"):
            try:
                extra = json.loads(line[len("@schema") :])
            except ValueError as exc:
                raise ConfigError(f"{where}: bad @schema JSON for {'.'.join(path)}: {exc}") from None
            doc.schema.update(extra)
        elif line == "@passthrough":
            doc.passthrough = True
        else:
            words.append(line)
    doc.description = " ".join(words).strip()
    return doc


def _infer(value: Any, path: tuple[str, ...], docs: dict[tuple[str, ...], KeyDoc]) -> dict[str, Any]:
    doc = docs.get(path, KeyDoc())
    schema: dict[str, Any] = {}
    if doc.description:
        schema["description"] = doc.description
    if isinstance(value, bool):
        schema["type"] = "boolean"
    elif isinstance(value, int):
        schema.update(type="integer", minimum=0)
    elif isinstance(value, float):
        schema["type"] = "number"
    elif isinstance(value, str):
        schema["type"] = "string"
    elif isinstance(value, list):
        schema["type"] = "array"
    elif isinstance(value, dict):
        schema["type"] = "object"
        if value and not doc.passthrough:
            schema["additionalProperties"] = False
            schema["properties"] = {str(key): _infer(child, (*path, str(key)), docs) for key, child in value.items()}
    schema.update(doc.schema)
    return schema


def build_schema(values_text: str, *, source: str = "values.yaml") -> dict[str, Any]:
    values = yaml.safe_load(values_text) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source} must be a mapping")
    docs = parse_key_docs(values_text, source=source)
    root = _infer(values, (), docs)
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "Values of the Airflow chart",
        "description": "Generated from chart/values.yaml by airflow_image.chart.values_schema; do not edit.",
        **root,
    }


def undocumented_keys(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of schema properties that have no description."""
    missing = []
    for key, child in schema.get("properties", {}).items():
        dotted = f"{prefix}{key}"
        if not child.get("description"):
            missing.append(dotted)
        missing.extend(undocumented_keys(child, f"{dotted}."))
    return missing


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def generate(root: Path) -> dict[Path, str]:
    """Every generated chart file (path -> wanted content), for writing or for a staleness check."""
    from . import REFERENCE_DOC, chart_dir
    from .reference import render_reference

    values_path = chart_dir(root) / "values.yaml"
    values_text = values_path.read_text()
    schema = build_schema(values_text, source=str(values_path))
    return {
        chart_dir(root) / "values.schema.json": schema_text(schema),
        root / REFERENCE_DOC: render_reference(schema, yaml.safe_load(values_text)),
    }


def stale_files(root: Path) -> list[Path]:
    return [path for path, text in generate(root).items() if not path.exists() or path.read_text() != text]


def write_generated(root: Path) -> list[Path]:
    written = []
    for path, text in generate(root).items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for changed in write_generated(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()):
        print(f"wrote {changed}")
