"""Pod security: "restricted" by default, OpenShift's arbitrary uids, read-only root filesystems,
per-component ServiceAccounts and RBAC only where the Kubernetes API is used, NetworkPolicies."""

from __future__ import annotations

import pytest
from chart_scenarios import (
    KITCHEN_SINK,
    PREFIX,
    READ_ONLY_ROOT,
    SCENARIOS,
    container,
    pod_spec,
    pod_specs,
    short,
    workloads,
)

AIRFLOW_PODS = {"api-server", "scheduler", "dag-processor", "triggerer", "worker", "migrate-db"}


def _containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("scenario", ["defaults", "kitchen-sink", "openshift", "read-only-root", "git-ssh-kubernetes"])
def test_every_pod_meets_the_restricted_profile(render, scenario):
    for name, spec in pod_specs(render(SCENARIOS[scenario])):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in _containers(spec):
            if c["name"] in ("proxy", "prepare"):
                continue  # the user's own extra containers
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert "privileged" not in sc, (name, c["name"])


def test_airflow_pods_run_as_the_image_user(render):
    for name, spec in pod_specs(render({})):
        if short(name).split("-")[0] in ("postgresql", "redis"):
            continue
        assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (50000, 0), name


def test_openshift_leaves_uids_to_the_platform(render):
    for name, spec in pod_specs(render(SCENARIOS["openshift"])):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(spec["securityContext"]), name
        for c in _containers(spec):
            assert "runAsUser" not in c.get("securityContext", {}), (name, c["name"])


def test_component_security_context_overrides_merge(render):
    values = {
        "scheduler": {"securityContexts": {"pod": {"runAsUser": 1234}, "container": {"readOnlyRootFilesystem": True}}}
    }
    spec = pod_spec(workloads(render(values))["scheduler"])
    assert spec["securityContext"]["runAsUser"] == 1234
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(spec, "scheduler")["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]
    assert (
        container(pod_spec(workloads(render(values))["triggerer"]), "triggerer")["securityContext"][
            "readOnlyRootFilesystem"
        ]
        is False
    )


@pytest.mark.parametrize("scenario", ["read-only-root", "kitchen-sink"])
def test_read_only_root_gets_writable_tmp_and_logs(render, scenario):
    rendered = render(SCENARIOS[scenario])
    for name, spec in pod_specs(rendered):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in _containers(spec):
            if c["name"] in ("proxy", "prepare"):
                continue
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, (name, c["name"])
            assert "emptyDir" in volumes[mounts["/tmp"]], (name, c["name"])
            if c["name"] in AIRFLOW_PODS | {"base", "log-cleanup"}:
                assert "/opt/airflow/logs" in mounts, (name, c["name"])


def test_writable_paths_are_configurable(render):
    spec = pod_spec(
        workloads(render({**READ_ONLY_ROOT, "writablePaths": ["/tmp", "/home/airflow/.cache"]}))["scheduler"]
    )
    mounts = {m["mountPath"] for m in container(spec, "scheduler")["volumeMounts"]}
    assert {"/tmp", "/home/airflow/.cache"} <= mounts


def test_writable_paths_only_with_a_read_only_root(render):
    spec = pod_spec(workloads(render({}))["scheduler"])
    assert not any(v["name"].startswith("writable-") for v in spec["volumes"])


@pytest.mark.parametrize(
    ("values", "launch_subjects", "log_reader_subjects"),
    [
        ({"executor": "CeleryExecutor"}, None, None),
        ({"executor": "LocalExecutor"}, None, None),
        ({"executor": "KubernetesExecutor"}, {"scheduler"}, {"api-server"}),
        ({"executor": "CeleryExecutor,KubernetesExecutor"}, {"scheduler"}, {"api-server"}),
        ({"executor": "CeleryExecutor", "rbac": {"allowPodLaunching": True}}, {"worker", "triggerer"}, None),
        ({"executor": "KubernetesExecutor", "rbac": {"create": False}}, None, None),
    ],
)
def test_rbac_only_where_the_kubernetes_api_is_used(render, values, launch_subjects, log_reader_subjects):
    rendered = render(values)
    bindings = {
        short(b["metadata"]["name"]): {short(s["name"]) for s in b["subjects"]} for b in rendered.of_kind("RoleBinding")
    }
    assert bindings.get("pod-launcher") == launch_subjects
    assert bindings.get("pod-log-reader") == log_reader_subjects
    assert not rendered.of_kind("ClusterRole") and not rendered.of_kind("ClusterRoleBinding")
    needing = (launch_subjects or set()) | (log_reader_subjects or set())
    for name, workload in workloads(rendered).items():
        assert pod_spec(workload)["automountServiceAccountToken"] is (name in needing), name


def test_role_lets_the_scheduler_manage_task_pods(render):
    role = render({"executor": "KubernetesExecutor"}).get("Role", PREFIX + "pod-launcher")
    pods = next(r for r in role["rules"] if r["resources"] == ["pods"])
    assert {"create", "watch", "delete", "list"} <= set(pods["verbs"])


def test_each_airflow_component_has_its_own_service_account(render):
    rendered = render({})
    accounts = {short(sa["metadata"]["name"]) for sa in rendered.of_kind("ServiceAccount")}
    assert accounts == {"api-server", "scheduler", "dag-processor", "triggerer", "worker"}
    for name, workload in workloads(rendered).items():
        if name in accounts:
            assert pod_spec(workload)["serviceAccountName"] == PREFIX + name


def test_existing_service_account_is_used_as_named(render):
    rendered = render(
        {
            "scheduler": {"serviceAccount": {"create": False, "name": "mine"}},
            "workers": {"serviceAccount": {"annotations": {"iam.example.com/role": "r"}}},
        }
    )
    assert pod_spec(workloads(rendered)["scheduler"])["serviceAccountName"] == "mine"
    assert rendered.find("ServiceAccount", PREFIX + "scheduler") is None
    assert rendered.get("ServiceAccount", PREFIX + "worker")["metadata"]["annotations"] == {"iam.example.com/role": "r"}


def test_no_network_policies_unless_enabled(render):
    assert render({}).of_kind("NetworkPolicy") == []


def _selected(policy: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in policy["spec"]["podSelector"]["matchLabels"].items())


@pytest.mark.parametrize("scenario", [{"networkPolicies": {"enabled": True}}, KITCHEN_SINK])
def test_every_pod_is_covered_by_exactly_one_policy(render, scenario):
    import yaml

    rendered = render(scenario)
    policies = rendered.of_kind("NetworkPolicy")
    pods = {
        short(o["metadata"]["name"]): o["spec"]["template"]["metadata"]["labels"] for o in workloads(rendered).values()
    }
    template = rendered.find("ConfigMap", PREFIX + "pod-template")
    if template:
        pods["task"] = yaml.safe_load(template["data"]["pod_template_file.yaml"])["metadata"]["labels"]
    for name, labels in pods.items():
        assert sum(_selected(p, labels) for p in policies) == 1, name
    for policy in policies:
        assert any(_selected(policy, labels) for labels in pods.values()), policy["metadata"]["name"]


def test_policies_open_only_the_component_ports(render):
    rendered = render(KITCHEN_SINK)
    ports = {
        short(p["metadata"]["name"]): {q["port"] for rule in p["spec"]["ingress"] for q in rule["ports"]}
        for p in rendered.of_kind("NetworkPolicy")
    }
    assert ports["api-server"] == {8080}
    assert ports["worker"] == {8793}
    assert ports["dag-processor"] == set()
    assert ports["redis"] == {6379}
    assert ports["postgresql"] == {5432}
    worker_rule = rendered.get("NetworkPolicy", PREFIX + "worker")["spec"]["ingress"][0]
    assert worker_rule["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "airflow",
                    "app.kubernetes.io/instance": "rel",
                    "app.kubernetes.io/component": "api-server",
                }
            }
        }
    ]
