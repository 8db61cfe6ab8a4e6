"""The chart's values reference (docs/chart/values.md), generated from values.schema.json and the
defaults in values.yaml."""

from __future__ import annotations

import json
from typing import Any

HEADER = """\
<!-- Generated from chart/values.yaml by `python -m airflow_image.chart.values_schema`; do not edit. -->
# Chart values reference

Every value the chart takes, with its type and default. The chart's values.schema.json rejects keys
that are not listed here (except inside values of type *map*, which are passed through to Airflow or
Kubernetes as they are) and values of the wrong type.
"""


def _type_label(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        label = " or ".join(kind)
    elif kind == "object" and "properties" not in schema:
        label = "map" if schema.get("additionalProperties") is not False else "object"
    else:
        label = kind
    if "enum" in schema:
        label += " (" + ", ".join(f"`{json.dumps(v)}`" if v != "" else '`""`' for v in schema["enum"]) + ")"
    return label


def _default(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, separators=(", ", ": "))
    if len(text) > 60:
        text = text[:57] + "..."
    return "`" + text.replace("|", "\\|") + "`"


def _rows(schema: dict[str, Any], defaults: Any, prefix: str) -> list[str]:
    rows = []
    for key, child in schema.get("properties", {}).items():
        dotted = f"{prefix}{key}"
        value = defaults.get(key) if isinstance(defaults, dict) else None
        if "properties" in child:
            rows.append(f"| `{dotted}` | object |  | {child.get('description', '')} |")
            rows.extend(_rows(child, value, f"{dotted}."))
            continue
        description = child.get("description", "").replace("|", "\\|")
        rows.append(f"| `{dotted}` | {_type_label(child)} | {_default(value)} | {description} |")
    return rows


def render_reference(schema: dict[str, Any], values: dict[str, Any]) -> str:
    table_head = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    general = {k: v for k, v in schema.get("properties", {}).items() if "properties" not in v}
    sections = [HEADER, "\n## General\n\n"]
    sections.append("\n".join(table_head + _rows({"properties": general}, values, "")) + "\n")
    for key, child in schema.get("properties", {}).items():
        if key in general:
            continue
        sections.append(f"\n## `{key}`\n\n{child.get('description', '')}\n\n")
        sections.append("\n".join(table_head + _rows(child, values.get(key), f"{key}.")) + "\n")
    return "".join(sections)
