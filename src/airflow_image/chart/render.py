"""Render the chart with the real Helm engine (helm-python-sdk, Helm v4's Go SDK), offline or
against a KubeStandIn that serves objects to `lookup`, and hand back the parsed objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .kube_standin import KubeStandIn

RELEASE = "rel"
NAMESPACE = "airflow"


@dataclass(frozen=True)
class Rendered:
    """What one `helm template`-like render produced."""

    objects: tuple[dict[str, Any], ...]
    notes: str
    sources: tuple[str, ...]  # template path of each object, same order

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.objects)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of_kind(kind)}

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for obj in self.of_kind(kind):
            if obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"no {kind} {name!r}; have {sorted(self.names(kind))}")

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return self.get(kind, name)
        except KeyError:
            return None


def parse_manifests(manifests: dict[str, str]) -> Rendered:
    objects: list[dict[str, Any]] = []
    sources: list[str] = []
    notes = ""
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            notes = manifests[path]
            continue
        for doc in yaml.safe_load_all(manifests[path]):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc:
                raise ValueError(f"{path} rendered something that is not a Kubernetes object: {doc!r}")
            objects.append(doc)
            sources.append(path)
    return Rendered(objects=tuple(objects), notes=notes, sources=tuple(sources))


class ChartRenderer:
    """One loaded chart that renders many values sets; close() (or `with`) releases it."""

    def __init__(self, chart_path: Path) -> None:
        import helm_python

        self._helm = helm_python
        self.path = chart_path
        self._chart = helm_python.Chart.load(chart_path)

    def close(self) -> None:
        self._chart.close()

    def __enter__(self) -> ChartRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def metadata(self) -> dict[str, Any]:
        return self._chart.metadata

    @property
    def default_values(self) -> dict[str, Any]:
        return self._chart.values

    def validate_values(self, values: dict[str, Any]) -> None:
        """Raises helm_python.HelmValuesError naming the offending key."""
        self._chart.validate_schema(values)

    def render(
        self,
        values: dict[str, Any] | None = None,
        *,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
        upgrade: bool = False,
        cluster: KubeStandIn | None = None,
    ) -> Rendered:
        """Render like `helm install/upgrade --dry-run`; with `cluster`, `lookup` asks it."""
        values = json.loads(json.dumps(values or {}))
        kwargs = {
            "name": release,
            "namespace": namespace,
            "revision": 2 if upgrade else 1,
            "is_install": not upgrade,
            "is_upgrade": upgrade,
        }
        if cluster is None:
            manifests = self._chart.render(values, **kwargs)
        else:
            with self._helm.Config(kubeconfig_content=cluster.kubeconfig(namespace), namespace=namespace) as cfg:
                manifests = cfg.render(self._chart, values, **kwargs)
        return parse_manifests(manifests)
