"""Values sets the chart tests render, and small helpers to read rendered objects.

Every scenario is validated against the Kubernetes schemas; feature tests pick the ones they need.
Names are those of release "rel" (objects are called rel-airflow-<component>).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PREFIX = "rel-airflow-"
AIRFLOW2 = {"airflowVersion": "2.11.0", "image": {"tag": "2.11.0-python3.12"}}
EXTERNAL_DB = {
    "postgresql": {"enabled": False},
    "database": {"host": "db.example.internal", "password": {"value": "s3cret"}},
}
ALL_EXISTING = {
    "secrets": {
        "generateMissing": False,
        "fernetKey": {"existingSecret": "my-fernet", "existingSecretKey": "key"},
        "jwtSecret": {"existingSecret": "my-jwt"},
        "webserverSecretKey": {"existingSecret": "my-web"},
    },
    "postgresql": {"enabled": False},
    "database": {"connectionSecret": {"name": "my-db", "key": "url"}},
    "redis": {"password": {"existingSecret": "my-redis"}},
}
GIT_HTTPS = {
    "dags": {
        "gitSync": {
            "enabled": True,
            "repo": "https://git.example.com/dags.git",
            "subPath": "dags",
            "credentialsSecret": "git-creds",
        }
    }
}
GIT_SSH = {
    "dags": {
        "gitSync": {
            "enabled": True,
            "repo": "git@git.example.com:org/dags.git",
            "sshKeySecret": "git-key",
            "knownHosts": "git.example.com ssh-ed25519 AAAA",
        }
    }
}
READ_ONLY_ROOT = {"securityContexts": {"container": {"readOnlyRootFilesystem": True}}}
SPREAD = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
KITCHEN_SINK = {
    "executor": "CeleryExecutor,KubernetesExecutor",
    "networkPolicies": {"enabled": True},
    "flower": {"enabled": True},
    "statsd": {"enabled": True, "mappings": [{"match": "airflow.dag.*.*.duration", "name": "task_duration"}]},
    "pgbouncer": {"enabled": True, "pdb": {"enabled": True}},
    "workers": {
        "keda": {"enabled": True, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}},
        "pdb": {"enabled": True},
        "persistence": {"enabled": True},
    },
    "apiServer": {
        "hpa": {"enabled": True},
        "pdb": {"enabled": True, "minAvailable": "50%"},
        "webserverConfig": "AUTH_ROLE_PUBLIC = 'Viewer'",
    },
    "scheduler": {"pdb": {"enabled": True}, "replicas": 2},
    "dagProcessor": {"pdb": {"enabled": True, "minAvailable": 1}},
    "triggerer": {"pdb": {"enabled": True}},
    "ingress": {
        "apiServer": {
            "enabled": True,
            "className": "nginx",
            "hosts": ["airflow.example.com"],
            "tls": [{"secretName": "airflow-tls", "hosts": ["airflow.example.com"]}],
        },
        "flower": {"enabled": True},
    },
    "httpRoute": {
        "apiServer": {
            "enabled": True,
            "parentRefs": [{"name": "gateway", "namespace": "infra"}],
            "hostnames": ["airflow.example.com"],
        },
        "flower": {"enabled": True, "parentRefs": [{"name": "gateway"}]},
    },
    "createUserJob": {"enabled": True},
    "logs": {"persistence": {"enabled": True}},
    "rbac": {"allowPodLaunching": True},
    "topologySpreadConstraints": [SPREAD],
    "imagePullSecrets": ["regcred", {"name": "other"}],
    "extraObjects": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ .Release.Name }}-extra"}, "data": {"a": "b"}}
    ],
    **GIT_SSH,
    **READ_ONLY_ROOT,
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "local": {"executor": "LocalExecutor"},
    "kubernetes": {"executor": "KubernetesExecutor"},
    "celery+kubernetes": {"executor": "CeleryExecutor,KubernetesExecutor"},
    "airflow2-celery": {**AIRFLOW2},
    "airflow2-celerykubernetes": {**AIRFLOW2, "executor": "CeleryKubernetesExecutor"},
    "airflow2-localkubernetes": {**AIRFLOW2, "executor": "LocalKubernetesExecutor", "dagProcessor": {"enabled": False}},
    "external-db": {**EXTERNAL_DB},
    "existing-secrets": {**ALL_EXISTING},
    "pgbouncer": {"pgbouncer": {"enabled": True}},
    "external-broker": {"redis": {"enabled": False}, "broker": {"url": {"value": "redis://:pw@redis.example:6379/0"}}},
    "git-https": {**GIT_HTTPS},
    "git-ssh-kubernetes": {**GIT_SSH, "executor": "KubernetesExecutor"},
    "pvcs": {
        "dags": {"persistence": {"enabled": True, "subPath": "dags"}},
        "logs": {"persistence": {"enabled": True}},
        "workers": {"persistence": {"enabled": True}},
    },
    "read-only-root": {
        **READ_ONLY_ROOT,
        "executor": "CeleryExecutor,KubernetesExecutor",
        "pgbouncer": {"enabled": True},
        "statsd": {"enabled": True},
        "flower": {"enabled": True},
        **GIT_HTTPS,
    },
    "openshift": {
        "openshift": {"enabled": True},
        "pgbouncer": {"enabled": True},
        "statsd": {"enabled": True},
        "executor": "CeleryExecutor,KubernetesExecutor",
        "createUserJob": {"enabled": True},
    },
    "network-policies": {"networkPolicies": {"enabled": True}},
    "hpa-pdb": {
        "apiServer": {"hpa": {"enabled": True, "maxReplicas": 3}, "pdb": {"enabled": True}},
        "workers": {"hpa": {"enabled": True}, "pdb": {"enabled": True, "maxUnavailable": "25%"}},
    },
    "keda": {"workers": {"keda": {"enabled": True}}},
    "keda-connection-secret": {"workers": {"keda": {"enabled": True}}, **ALL_EXISTING},
    "no-hooks": {
        "migrateDatabaseJob": {"useHelmHooks": False},
        "createUserJob": {"enabled": True, "useHelmHooks": False},
    },
    "remote-logs": {
        "logs": {
            "remote": {"enabled": True, "baseLogFolder": "s3://bucket/logs", "connectionId": "aws"},
            "cleanup": {"enabled": False},
        }
    },
    "scheduling": {
        "nodeSelector": {"pool": "airflow"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["airflow"]}]}
                    ]
                }
            }
        },
        "priorityClassName": "airflow",
        "topologySpreadConstraints": [SPREAD],
        "scheduler": {"nodeSelector": {"pool": "scheduler"}, "priorityClassName": "critical"},
    },
    "extras": {
        "env": {"GLOBAL_FLAG": "1", "NUMBER": 3},
        "extraEnv": [{"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "extraEnvFrom": [{"configMapRef": {"name": "shared-env"}}],
        "extraVolumes": [{"name": "shared", "configMap": {"name": "shared"}}],
        "extraVolumeMounts": [{"name": "shared", "mountPath": "/opt/shared"}],
        "extraContainers": [{"name": "proxy", "image": "proxy:1"}],
        "extraInitContainers": [{"name": "prepare", "image": "busybox:1"}],
        "labels": {"team": "data"},
        "podAnnotations": {"example.com/scrape": "true"},
        "scheduler": {
            "env": {"ONLY_SCHEDULER": "yes"},
            "extraVolumes": [{"name": "sched", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "sched", "mountPath": "/opt/sched"}],
            "extraContainers": [{"name": "sched-sidecar", "image": "side:1"}],
            "labels": {"tier": "core"},
        },
        "config": {
            "core": {"parallelism": 64, "load_examples": True},
            "webserver": {"instance_name": "{{ .Release.Name }}-airflow"},
        },
    },
    "image-digest": {"image": {"digest": "sha256:" + "a" * 64}, "imagePullSecrets": ["regcred"]},
    "kitchen-sink": KITCHEN_SINK,
}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def short(name: str) -> str:
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def workloads(rendered) -> dict[str, dict[str, Any]]:
    """Short name -> Deployment/StatefulSet (Jobs excluded)."""
    return {short(o["metadata"]["name"]): o for o in rendered if o["kind"] in ("Deployment", "StatefulSet")}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def pod_specs(rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every workload and Job, plus the KubernetesExecutor task pod template."""
    import yaml

    for obj in rendered:
        if obj["kind"] in WORKLOAD_KINDS:
            yield obj["metadata"]["name"], pod_spec(obj)
        if obj["kind"] == "ConfigMap" and "pod_template_file.yaml" in obj.get("data", {}):
            yield "task-pod", yaml.safe_load(obj["data"]["pod_template_file.yaml"])["spec"]


def task_pod(rendered) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(rendered.get("ConfigMap", PREFIX + "pod-template")["data"]["pod_template_file.yaml"])


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        if c["name"] == name:
            return c
    raise KeyError(f"no container {name!r}; have {[c['name'] for c in spec.get('containers', [])]}")


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or the valueFrom dict."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def airflow_cfg(rendered) -> dict[str, dict[str, str]]:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(rendered.get("ConfigMap", PREFIX + "config")["data"]["airflow.cfg"])
    return {section: dict(parser[section]) for section in parser.sections()}
