"""Strict validation of rendered objects against Kubernetes's own OpenAPI schemas.

Built-in kinds are checked against the strict (no unknown fields) JSON schemas that the
kubernetes-validate package ships per Kubernetes minor version; validators are built once per
(version, kind) and cached, since compiling them dominates the cost. Custom resources have no
schema there: the KEDA and Gateway API kinds the chart renders are checked against the structural
schemas in crd_schemas.py.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from .crd_schemas import CRD_SCHEMAS

# The chart's minimum (Chart.yaml kubeVersion) and the newest the schema package knows.
KUBERNETES_VERSIONS = ("1.30", "1.37")


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    version: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} (Kubernetes {self.version}) at {self.where or '/'}: {self.message}"


def _schema_dir(version: str):
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    folder = root / f"v{version}.0-local-strict"
    if not folder.is_dir():
        known = sorted(p.name for p in root.iterdir() if p.name.endswith("-local-strict"))
        raise LookupError(f"kubernetes-validate has no strict schemas for {version}; it has {known}")
    return folder


@functools.cache
def _registry(version: str) -> Registry:
    definitions = json.loads((_schema_dir(version) / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


def _schema_file_name(kind: str, api_version: str) -> str:
    group, _, ver = api_version.rpartition("/")
    group = group.split(".")[0] if group else "core"
    return f"{kind.lower()}-{group}-{ver}.json" if group != "core" else f"{kind.lower()}-{ver}.json"


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    if (kind, api_version) in CRD_SCHEMAS:
        schema = CRD_SCHEMAS[(kind, api_version)]
        return jsonschema.Draft202012Validator(schema)
    path = _schema_dir(version) / _schema_file_name(kind, api_version)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def problems(obj: dict[str, Any], version: str) -> list[Problem]:
    kind, api_version = obj.get("kind", "?"), obj.get("apiVersion", "?")
    name = obj.get("metadata", {}).get("name", "?")
    validator = _validator(version, kind, api_version)
    if validator is None:
        return [Problem(kind, name, version, "", f"no schema for {api_version} {kind} in Kubernetes {version}")]
    return [
        Problem(kind, name, version, "/" + "/".join(str(p) for p in error.absolute_path), error.message)
        for error in validator.iter_errors(obj)
    ]


def all_problems(objects, versions=KUBERNETES_VERSIONS) -> list[Problem]:
    return [problem for version in versions for obj in objects for problem in problems(obj, version)]


def is_custom_resource(obj: dict[str, Any]) -> bool:
    return (obj.get("kind"), obj.get("apiVersion")) in CRD_SCHEMAS
