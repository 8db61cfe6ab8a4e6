"""airflow.cfg, environment, volumes and sidecars: config rendering, extras (global and per
component), DAG sources and log handling."""

from __future__ import annotations

import pytest
from chart_scenarios import (
    GIT_HTTPS,
    GIT_SSH,
    PREFIX,
    SCENARIOS,
    airflow_cfg,
    container,
    env_of,
    pod_spec,
    pod_specs,
    task_pod,
    workloads,
)

DAG_USERS = ("scheduler", "dag-processor", "triggerer", "worker")
LOG_WRITERS = ("scheduler", "dag-processor", "triggerer", "worker")


def test_user_config_wins_and_is_templated(render):
    cfg = airflow_cfg(render(SCENARIOS["extras"]))
    assert cfg["core"]["parallelism"] == "64"
    assert cfg["core"]["load_examples"] == "True"  # overrides the chart's False
    assert cfg["webserver"]["instance_name"] == "rel-airflow"
    assert cfg["core"]["executor"] == "CeleryExecutor"  # chart-set keys of the same section stay


def test_config_is_mounted_in_every_airflow_container(render):
    rendered = render(SCENARIOS["kitchen-sink"])
    for name, spec in pod_specs(rendered):
        for c in spec["containers"]:
            if c["image"].startswith("airflow:") and c["name"] != "log-cleanup":
                mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
                assert mounts["/opt/airflow/airflow.cfg"]["subPath"] == "airflow.cfg", (name, c["name"])


def test_config_change_rolls_the_pods(render):
    def checksum(values):
        return workloads(render(values))["scheduler"]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) != checksum({"config": {"core": {"parallelism": 1}}})
    assert checksum({}) == checksum({"scheduler": {"replicas": 2}})


@pytest.mark.parametrize("name", ["api-server", "scheduler", "worker"])
def test_global_and_component_extras_are_combined(render, name):
    rendered = render(SCENARIOS["extras"])
    spec = pod_spec(workloads(rendered)[name])
    main = container(spec, name)
    env = env_of(main)
    assert env["GLOBAL_FLAG"] == "1" and env["NUMBER"] == "3"
    assert env["FROM_FIELD"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert ("ONLY_SCHEDULER" in env) is (name == "scheduler")
    assert {"configMapRef": {"name": "shared-env"}} in main["envFrom"]
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert "/opt/shared" in mounts and ("/opt/sched" in mounts) is (name == "scheduler")
    containers = {c["name"] for c in spec["containers"]}
    assert "proxy" in containers and ("sched-sidecar" in containers) is (name == "scheduler")
    assert "prepare" in {c["name"] for c in spec["initContainers"]}
    labels = workloads(rendered)[name]["spec"]["template"]["metadata"]["labels"]
    assert labels["team"] == "data" and (labels.get("tier") == "core") is (name == "scheduler")
    assert workloads(rendered)[name]["spec"]["template"]["metadata"]["annotations"]["example.com/scrape"] == "true"


def test_selectors_ignore_user_labels(render):
    worker = workloads(render(SCENARIOS["extras"]))["worker"]
    assert set(worker["spec"]["selector"]["matchLabels"]) == {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
    }


@pytest.mark.parametrize(
    ("values", "folder", "source"),
    [
        ({}, "/opt/airflow/dags", None),
        (GIT_HTTPS, "/opt/airflow/dags/repo/dags", "emptyDir"),
        (GIT_SSH, "/opt/airflow/dags/repo", "emptyDir"),
        ({"dags": {"persistence": {"enabled": True}}}, "/opt/airflow/dags", "persistentVolumeClaim"),
    ],
)
def test_dag_sources(render, values, folder, source):
    rendered = render(values)
    assert airflow_cfg(rendered)["core"]["dags_folder"] == folder
    for name, workload in workloads(rendered).items():
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        if name in DAG_USERS and source:
            assert source in volumes["dags"], name
            mounts = {m["mountPath"]: m for m in container(pod_spec(workload), name)["volumeMounts"]}
            assert mounts["/opt/airflow/dags"]["readOnly"] is True
        else:
            assert "dags" not in volumes, name


@pytest.mark.parametrize("name", DAG_USERS)
def test_git_sync_runs_beside_every_dag_user(render, name):
    spec = pod_spec(workloads(render(GIT_HTTPS))[name])
    sidecar, init = container(spec, "git-sync"), container(spec, "git-sync-init")
    assert env_of(sidecar)["GITSYNC_ONE_TIME"] == "false" and env_of(init)["GITSYNC_ONE_TIME"] == "true"
    assert env_of(sidecar)["GITSYNC_REPO"] == "https://git.example.com/dags.git"
    assert env_of(sidecar)["GITSYNC_PASSWORD"] == {"secretKeyRef": {"name": "git-creds", "key": "GITSYNC_PASSWORD"}}
    assert {"name": "dags", "mountPath": "/git"} in sidecar["volumeMounts"]


def test_git_sync_ssh_and_known_hosts(render):
    rendered = render(GIT_SSH)
    sidecar = container(pod_spec(workloads(rendered)["scheduler"]), "git-sync")
    env = env_of(sidecar)
    assert env["GITSYNC_SSH_KEY_FILE"] == "/etc/git-secret/ssh"
    assert env["GITSYNC_SSH_KNOWN_HOSTS"] == "true"
    assert rendered.get("ConfigMap", PREFIX + "config")["data"]["known_hosts"].startswith("git.example.com")


def test_task_pods_clone_once_and_do_not_keep_a_sidecar(render):
    pod = task_pod(render(SCENARIOS["git-ssh-kubernetes"]))
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["git-sync-init"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["base"]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_task_pods_share_the_worker_settings(render):
    values = {
        "executor": "KubernetesExecutor",
        "workers": {
            "resources": {"limits": {"memory": "2Gi"}},
            "nodeSelector": {"pool": "tasks"},
            "env": {"TASK_ONLY": "1"},
        },
    }
    pod = task_pod(render(values))
    base = pod["spec"]["containers"][0]
    assert base["image"] == "airflow:3.3.2-python3.12"
    assert base["resources"] == {"limits": {"memory": "2Gi"}}
    assert pod["spec"]["nodeSelector"] == {"pool": "tasks"}
    assert env_of(base)["TASK_ONLY"] == "1"
    assert pod["spec"]["serviceAccountName"] == PREFIX + "worker"


def test_a_custom_pod_template_replaces_the_generated_one(render):
    custom = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-custom\n"
    pod = task_pod(render({"executor": "KubernetesExecutor", "workers": {"podTemplate": custom}}))
    assert pod["metadata"]["name"] == "rel-custom"


def test_git_sync_and_dag_claim_are_exclusive(renderer):
    import helm_python

    with pytest.raises(helm_python.HelmError, match="alternatives"):
        renderer.render({**GIT_HTTPS, "dags": {**GIT_HTTPS["dags"], "persistence": {"enabled": True}}})


@pytest.mark.parametrize("name", LOG_WRITERS)
def test_log_cleanup_sidecar_keeps_local_logs_bounded(render, name):
    spec = pod_spec(workloads(render({"logs": {"cleanup": {"retentionDays": 3, "frequencyMinutes": 30}}}))[name])
    cleanup = container(spec, "log-cleanup")
    assert cleanup["args"] == ["bash", "/clean-logs"]
    assert env_of(cleanup) == {"AIRFLOW__LOG_RETENTION_DAYS": "3", "AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES": "30"}
    assert {"name": "logs", "mountPath": "/opt/airflow/logs"} in cleanup["volumeMounts"]
    logs = next(v for v in spec["volumes"] if v["name"] == "logs")
    assert logs["emptyDir"]["sizeLimit"] == "2Gi"


@pytest.mark.parametrize("values", [{"logs": {"cleanup": {"enabled": False}}}, {"scheduler": {"logCleanup": False}}])
def test_log_cleanup_can_be_turned_off(render, values):
    names = [c["name"] for c in pod_spec(workloads(render(values))["scheduler"])["containers"]]
    assert names == ["scheduler"]


def test_api_server_has_no_cleanup_sidecar(render):
    assert [c["name"] for c in pod_spec(workloads(render({}))["api-server"])["containers"]] == ["api-server"]


def test_shared_log_claim(render):
    rendered = render({"logs": {"persistence": {"enabled": True, "size": "50Gi"}}})
    claim = rendered.get("PersistentVolumeClaim", PREFIX + "logs")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    for name in (*LOG_WRITERS, "api-server"):
        logs = next(v for v in pod_spec(workloads(rendered)[name])["volumes"] if v["name"] == "logs")
        assert logs == {"name": "logs", "persistentVolumeClaim": {"claimName": PREFIX + "logs"}}


def test_existing_claims_are_not_created(render):
    rendered = render(
        {
            "logs": {"persistence": {"enabled": True, "existingClaim": "my-logs"}},
            "dags": {"persistence": {"enabled": True, "existingClaim": "my-dags"}},
        }
    )
    assert rendered.of_kind("PersistentVolumeClaim") == []
    volumes = {v["name"]: v for v in pod_spec(workloads(rendered)["worker"])["volumes"]}
    assert volumes["logs"]["persistentVolumeClaim"]["claimName"] == "my-logs"
    assert volumes["dags"]["persistentVolumeClaim"]["claimName"] == "my-dags"


def test_worker_log_claims_per_pod(render):
    worker = workloads(render({"workers": {"persistence": {"enabled": True, "size": "5Gi"}}}))["worker"]
    assert worker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "logs"
    assert "logs" not in {v["name"] for v in pod_spec(worker)["volumes"]}


def test_remote_logging(render):
    cfg = airflow_cfg(render(SCENARIOS["remote-logs"]))["logging"]
    assert cfg["remote_logging"] == "True"
    assert cfg["remote_base_log_folder"] == "s3://bucket/logs"
    assert cfg["remote_log_conn_id"] == "aws"


def test_statsd_is_wired_into_airflow_config(render):
    rendered = render({"statsd": {"enabled": True}})
    metrics = airflow_cfg(rendered)["metrics"]
    service = rendered.get("Service", metrics["statsd_host"])
    assert service["spec"]["ports"][0] == {
        "name": "statsd-udp",
        "port": int(metrics["statsd_port"]),
        "targetPort": "statsd-udp",
        "protocol": "UDP",
    }


def test_pgbouncer_sits_between_airflow_and_the_database(render):
    rendered = render({"pgbouncer": {"enabled": True}})
    env = env_of(container(pod_spec(workloads(rendered)["scheduler"]), "scheduler"))
    assert "@rel-airflow-pgbouncer:6543/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    bouncer = env_of(container(pod_spec(workloads(rendered)["pgbouncer"]), "pgbouncer"))
    assert bouncer["DB_HOST"] == PREFIX + "postgresql"
    assert bouncer["DB_PASSWORD"] == env["AIRFLOW_DB_PASSWORD"]


def test_image_digest_and_pull_secrets(render):
    rendered = render(SCENARIOS["image-digest"])
    for name, spec in pod_specs(rendered):
        assert spec["imagePullSecrets"] == [{"name": "regcred"}], name
    main = container(pod_spec(workloads(rendered)["scheduler"]), "scheduler")
    assert main["image"] == "airflow@sha256:" + "a" * 64
