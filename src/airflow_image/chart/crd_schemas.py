"""Structural schemas of the custom resources the chart renders, written from the fields their CRDs
(KEDA v2, Gateway API v1) define. They are not the CRDs' full OpenAPI schemas: they pin the shape,
the required fields and the types, and reject unknown fields, which catches the mistakes a template
can make."""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 253}
_INT = {"type": "integer"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _NAME, "namespace": _STRING, "labels": _STRING_MAP, "annotations": _STRING_MAP},
    }
    return _obj(
        {"apiVersion": {"const": api_version}, "kind": {"const": kind}, "metadata": metadata, "spec": spec},
        ("apiVersion", "kind", "metadata", "spec"),
    )


_SCALED_OBJECT_SPEC = _obj(
    {
        "scaleTargetRef": _obj(
            {"apiVersion": _STRING, "kind": _STRING, "name": _NAME, "envSourceContainerName": _STRING}, ("name",)
        ),
        "pollingInterval": _INT,
        "cooldownPeriod": _INT,
        "initialCooldownPeriod": _INT,
        "idleReplicaCount": _INT,
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "advanced": _obj(
            {
                "restoreToOriginalReplicaCount": {"type": "boolean"},
                "horizontalPodAutoscalerConfig": _obj({"name": _STRING, "behavior": {"type": "object"}}),
                "scalingModifiers": {"type": "object"},
            }
        ),
        "fallback": _obj({"failureThreshold": _INT, "replicas": _INT, "behavior": _STRING}),
        "triggers": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "type": {"type": "string", "minLength": 1},
                    "name": _STRING,
                    "metadata": _STRING_MAP,
                    "authenticationRef": _obj(
                        {"name": _NAME, "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]}},
                        ("name",),
                    ),
                    "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                    "useCachedMetrics": {"type": "boolean"},
                },
                ("type", "metadata"),
            ),
        },
    },
    ("scaleTargetRef", "triggers"),
)

_TRIGGER_AUTHENTICATION_SPEC = _obj(
    {
        "secretTargetRef": {
            "type": "array",
            "items": _obj(
                {
                    "parameter": {"type": "string", "minLength": 1},
                    "name": _NAME,
                    "key": {"type": "string", "minLength": 1},
                },
                ("parameter", "name", "key"),
            ),
        },
        "env": {"type": "array"},
        "podIdentity": {"type": "object"},
    }
)

_PARENT_REF = _obj(
    {
        "group": _STRING,
        "kind": _STRING,
        "namespace": _STRING,
        "name": _NAME,
        "sectionName": _STRING,
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    },
    ("name",),
)
_HTTP_ROUTE_SPEC = _obj(
    {
        "parentRefs": {"type": "array", "minItems": 1, "maxItems": 32, "items": _PARENT_REF},
        "hostnames": {"type": "array", "maxItems": 16, "items": {"type": "string", "minLength": 1}},
        "rules": {
            "type": "array",
            "maxItems": 16,
            "items": _obj(
                {
                    "name": _STRING,
                    "matches": {
                        "type": "array",
                        "maxItems": 64,
                        "items": _obj(
                            {
                                "path": _obj(
                                    {
                                        "type": {"enum": ["Exact", "PathPrefix", "RegularExpression"]},
                                        "value": {"type": "string", "pattern": "^/"},
                                    }
                                ),
                                "headers": {"type": "array"},
                                "queryParams": {"type": "array"},
                                "method": _STRING,
                            }
                        ),
                    },
                    "filters": {"type": "array"},
                    "backendRefs": {
                        "type": "array",
                        "items": _obj(
                            {
                                "group": _STRING,
                                "kind": _STRING,
                                "name": _NAME,
                                "namespace": _STRING,
                                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                "weight": {"type": "integer", "minimum": 0},
                                "filters": {"type": "array"},
                            },
                            ("name",),
                        ),
                    },
                    "timeouts": {"type": "object"},
                }
            ),
        },
    },
    ("parentRefs",),
)

CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("ScaledObject", "keda.sh/v1alpha1"): _resource("keda.sh/v1alpha1", "ScaledObject", _SCALED_OBJECT_SPEC),
    ("TriggerAuthentication", "keda.sh/v1alpha1"): _resource(
        "keda.sh/v1alpha1", "TriggerAuthentication", _TRIGGER_AUTHENTICATION_SPEC
    ),
    ("HTTPRoute", "gateway.networking.k8s.io/v1"): _resource(
        "gateway.networking.k8s.io/v1", "HTTPRoute", _HTTP_ROUTE_SPEC
    ),
}
