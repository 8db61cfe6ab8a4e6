"""Pod security: "restricted" by default, OpenShift's arbitrary uids, read-only root filesystems,
per-component ServiceAccounts and RBAC only where the Kubernetes API is used, NetworkPolicies."""

from __future__ import annotations

import pytest
from chart_scenarios import (
    AIRFLOW2,
    KITCHEN_SINK,
    PREFIX,
    READ_ONLY_ROOT,
    SCENARIOS,
    airflow_cfg,
    container,
    pod_spec,
    pod_specs,
    short,
    workloads,
)


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
        "scheduler": {"securityContexts": {"pod": {"runAsUser": 1234}, "container": {"readOnlyRootFilesystem": False}}}
    }
    spec = pod_spec(workloads(render(values))["scheduler"])
    assert spec["securityContext"]["runAsUser"] == 1234
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(spec, "scheduler")["securityContext"]
    assert sc["readOnlyRootFilesystem"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert not any(v["name"].startswith("writable-") for v in spec["volumes"])
    triggerer = container(pod_spec(workloads(render(values))["triggerer"]), "triggerer")
    assert triggerer["securityContext"]["readOnlyRootFilesystem"] is True


# What each container writes besides what airflow.cfg names: the image's entrypoint, Python and
# Airflow put temporary files, DAG bundles and (without a config file) their start-up files under /tmp.
AIRFLOW_IMAGE_WRITES = ("/tmp",)
OTHER_WRITES = {
    "git-sync": ("/git", "/tmp"),  # the checkout, and HOME
    "git-sync-init": ("/git", "/tmp"),
    "log-cleanup": ("/opt/airflow/logs", "/tmp"),
    "pgbouncer": ("/etc/pgbouncer", "/tmp"),  # the image writes its configuration at start
    "statsd": ("/tmp",),
    "postgresql": ("/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"),
    "redis": ("/data", "/tmp"),
}
USERS_OWN_CONTAINERS = {"proxy", "prepare", "sched-sidecar"}  # from the "extras" scenario
WRITABLE_VOLUME_KINDS = {"emptyDir", "persistentVolumeClaim", "ephemeral"}
HOME = "/opt/airflow"


def _writable_mount_for(path: str, c: dict, volume_kinds: dict[str, str]) -> dict | None:
    """The mount that holds `path` (the deepest one), if it is a writable volume."""
    holding = [
        m
        for m in c.get("volumeMounts", [])
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    if not holding:
        return None
    mount = max(holding, key=lambda m: len(m["mountPath"]))
    if mount.get("readOnly") or volume_kinds.get(mount["name"]) not in WRITABLE_VOLUME_KINDS:
        return None
    return mount


def _pods_with_volume_kinds(rendered):
    """(name, pod spec, volume name -> kind) of every pod; StatefulSet claim templates count as claims."""
    claims = {
        obj["metadata"]["name"]: {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        for obj in rendered
        if obj["kind"] == "StatefulSet"
    }
    for name, spec in pod_specs(rendered):
        kinds = {v["name"]: next(k for k in v if k != "name") for v in spec.get("volumes", [])}
        kinds.update(dict.fromkeys(claims.get(name, ()), "persistentVolumeClaim"))
        yield name, spec, kinds


def _airflow_writes(cfg: dict[str, dict[str, str]], mounted: set[str], *, airflow3: bool) -> set[str]:
    """Paths an Airflow process writes, from the rendered airflow.cfg or else Airflow's defaults."""
    writes = {cfg["logging"]["base_log_folder"]}
    core = cfg.get("core", {})
    if airflow3 and "fab" not in core.get("auth_manager", "").lower():
        # the simple auth manager writes the passwords it generates
        writes.add(
            core.get("simple_auth_manager_passwords_file", f"{HOME}/simple_auth_manager_passwords.json.generated")
        )
    if not airflow3:
        # every Airflow 2 process writes a default webserver_config.py where none is
        config_file = cfg.get("webserver", {}).get("config_file", f"{HOME}/webserver_config.py")
        if config_file not in mounted:
            writes.add(config_file)
    return writes


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_container_has_a_read_only_root_and_writes_only_to_volumes(render, scenario):
    rendered = render(SCENARIOS[scenario])
    cfg = airflow_cfg(rendered)
    airflow3 = not SCENARIOS[scenario].get("airflowVersion", "").startswith("2.")
    airflow_image = {"image": None}
    checked = 0
    for name, spec, volume_kinds in _pods_with_volume_kinds(rendered):
        for c in _containers(spec):
            if c["name"] in USERS_OWN_CONTAINERS:
                continue
            where = (scenario, name, c["name"])
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            mounted = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if c["name"] in OTHER_WRITES:
                writes = set(OTHER_WRITES[c["name"]])
            else:
                airflow_image["image"] = airflow_image["image"] or c["image"]
                assert c["image"] == airflow_image["image"], where
                # A missing airflow.cfg is written at start; the chart's is mounted read-only instead.
                assert f"{HOME}/airflow.cfg" in mounted, where
                writes = set(AIRFLOW_IMAGE_WRITES)
                if c["name"] != "wait-for-migrations":  # `db check-migrations` logs nothing to files
                    writes |= _airflow_writes(cfg, mounted, airflow3=airflow3)
            for path in sorted(writes):
                assert _writable_mount_for(path, c, volume_kinds), (*where, path, sorted(mounted))
            checked += 1
    assert checked >= 5


def test_airflow_start_up_files_point_at_writable_places(render):
    v3 = airflow_cfg(render({}))
    assert v3["core"]["simple_auth_manager_passwords_file"] == "/tmp/simple_auth_manager_passwords.json.generated"
    assert "simple_auth_manager_passwords_file" not in airflow_cfg(render({"createUserJob": {"enabled": True}}))["core"]
    assert airflow_cfg(render(AIRFLOW2))["webserver"]["config_file"] == "/tmp/webserver_config.py"
    webserver = workloads(render(AIRFLOW2))["webserver"]
    assert container(pod_spec(webserver), "webserver")["args"] == ["webserver", "--pid", "/tmp/airflow-webserver.pid"]


def test_airflow2_webserver_config_is_mounted_wherever_airflow_runs(render):
    rendered = render({**AIRFLOW2, "apiServer": {"webserverConfig": "AUTH_ROLE_PUBLIC = 'Viewer'"}})
    assert "config_file" not in airflow_cfg(rendered)["webserver"]
    for name, spec in pod_specs(rendered):
        for c in _containers(spec):
            if c["name"] not in OTHER_WRITES:
                mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
                assert mounts["/opt/airflow/webserver_config.py"]["readOnly"] is True, (name, c["name"])


def test_writable_paths_are_configurable(render):
    spec = pod_spec(
        workloads(render({**READ_ONLY_ROOT, "writablePaths": ["/tmp", "/home/airflow/.cache"]}))["scheduler"]
    )
    mounts = {m["mountPath"] for m in container(spec, "scheduler")["volumeMounts"]}
    assert {"/tmp", "/home/airflow/.cache"} <= mounts


def test_writable_paths_only_with_a_read_only_root(render):
    spec = pod_spec(
        workloads(render({"securityContexts": {"container": {"readOnlyRootFilesystem": False}}}))["scheduler"]
    )
    assert not any(v["name"].startswith("writable-") for v in spec["volumes"])
    assert container(spec, "scheduler")["securityContext"]["readOnlyRootFilesystem"] is False


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
