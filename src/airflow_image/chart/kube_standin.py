"""A stand-in Kubernetes API server on 127.0.0.1 that serves fixed objects to Helm's `lookup`.

Helm renders `lookup` against a live cluster only; offline it returns nothing, which is exactly what
a GitOps tool sees. To render "as an upgrade of a release whose Secret already exists", the Helm
engine is pointed (through a kubeconfig) at this server, which answers API discovery and GETs of
the objects it was given, and records every request so a test can tell whether a lookup happened.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Core (v1) resources the stand-in can serve: plural -> kind.
_CORE_RESOURCES = {
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "services": "Service",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "serviceaccounts": "ServiceAccount",
    "pods": "Pod",
}
_PLURAL_OF = {kind: plural for plural, kind in _CORE_RESOURCES.items()}


class KubeStandIn:
    """Serves `objects` (core/v1 kinds) read-only; use as a context manager."""

    def __init__(self, objects: Iterable[dict[str, Any]] = ()) -> None:
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        for obj in objects:
            if obj.get("apiVersion") != "v1" or obj.get("kind") not in _PLURAL_OF:
                raise ValueError(f"the stand-in serves core/v1 kinds only, not {obj.get('kind')!r}")
            meta = obj["metadata"]
            key = (_PLURAL_OF[obj["kind"]], meta.get("namespace", "default"), meta["name"])
            self._objects[key] = obj
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, namespace: str = "default") -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                "users": [{"name": "standin", "user": {}}],
                "contexts": [
                    {"name": "standin", "context": {"cluster": "standin", "user": "standin", "namespace": namespace}}
                ],
                "current-context": "standin",
            }
        )

    def object_requests(self) -> list[str]:
        """Requests for objects (not API discovery)."""
        return [path for path in self.requests if "/namespaces/" in path]

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(path)
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if parts == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        if parts == ["api", "v1"]:
            return 200, {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": plural,
                        "singularName": kind.lower(),
                        "namespaced": True,
                        "kind": kind,
                        "verbs": ["get", "list"],
                    }
                    for plural, kind in _CORE_RESOURCES.items()
                ],
            }
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"]:
            _, _, _, namespace, plural, name = parts
            found = self._objects.get((plural, namespace, name))
            if found is not None:
                return 200, found
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"]:
            _, _, _, namespace, plural = parts
            items = [o for (p, ns, _), o in self._objects.items() if p == plural and ns == namespace]
            return 200, {
                "kind": f"{_CORE_RESOURCES.get(plural, 'Object')}List",
                "apiVersion": "v1",
                "metadata": {},
                "items": items,
            }
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "code": 404,
            "message": f"{path} not found",
        }

    def __enter__(self) -> KubeStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = standin._answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
