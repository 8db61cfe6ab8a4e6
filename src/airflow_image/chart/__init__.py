"""The Helm chart's Python side: values schema and reference generation, offline rendering with the
Helm engine, Kubernetes schema validation, packaging and OCI publishing.

The Helm engine (helm-python-sdk) and the Kubernetes schemas (kubernetes-validate) are imported only
by the functions that need them, so the schema and reference generators work without them.
"""

from __future__ import annotations

from pathlib import Path

CHART_SUBDIR = "chart"
REFERENCE_DOC = Path("docs") / "chart" / "values.md"


def chart_dir(root: Path) -> Path:
    return root / CHART_SUBDIR
