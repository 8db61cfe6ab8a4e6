"""Which workloads each executor and Airflow version gets, and how their containers start and are
probed."""

from __future__ import annotations

import pytest
from chart_scenarios import AIRFLOW2, PREFIX, airflow_cfg, container, pod_spec, short, workloads

AIRFLOW3_CORE = {"api-server", "scheduler", "dag-processor", "triggerer", "postgresql"}
AIRFLOW2_CORE = {"webserver", "scheduler", "dag-processor", "triggerer", "postgresql"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"executor": "LocalExecutor"}, AIRFLOW3_CORE),
        ({"executor": "CeleryExecutor"}, AIRFLOW3_CORE | {"worker", "redis"}),
        ({"executor": "KubernetesExecutor"}, AIRFLOW3_CORE),
        ({"executor": "CeleryExecutor,KubernetesExecutor"}, AIRFLOW3_CORE | {"worker", "redis"}),
        ({"executor": "LocalExecutor,KubernetesExecutor"}, AIRFLOW3_CORE),
        (
            {"executor": "airflow.providers.celery.executors.celery_executor.CeleryExecutor"},
            AIRFLOW3_CORE | {"worker", "redis"},
        ),
        ({**AIRFLOW2, "executor": "CeleryKubernetesExecutor"}, AIRFLOW2_CORE | {"worker", "redis"}),
        (
            {**AIRFLOW2, "executor": "LocalKubernetesExecutor", "dagProcessor": {"enabled": False}},
            AIRFLOW2_CORE - {"dag-processor"},
        ),
        (
            {
                "executor": "CeleryExecutor",
                "flower": {"enabled": True},
                "statsd": {"enabled": True},
                "pgbouncer": {"enabled": True},
            },
            AIRFLOW3_CORE | {"worker", "redis", "flower", "statsd", "pgbouncer"},
        ),
        ({"executor": "LocalExecutor", "flower": {"enabled": True}}, AIRFLOW3_CORE),
        (
            {
                "executor": "CeleryExecutor",
                "redis": {"enabled": False},
                "broker": {"url": {"value": "redis://r:6379/0"}},
            },
            AIRFLOW3_CORE | {"worker"},
        ),
        (
            {
                "executor": "LocalExecutor",
                "postgresql": {"enabled": False},
                "database": {"host": "db", "password": {"value": "p"}},
                "triggerer": {"enabled": False},
            },
            AIRFLOW3_CORE - {"postgresql", "triggerer"},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_executor_decides_the_workloads(render, values, expected):
    rendered = render(values)
    assert set(workloads(rendered)) == expected
    assert airflow_cfg(rendered)["core"]["executor"] == values["executor"]


@pytest.mark.parametrize(
    ("executor", "pod_template"),
    [
        ("LocalExecutor", False),
        ("CeleryExecutor", False),
        ("KubernetesExecutor", True),
        ("CeleryExecutor,KubernetesExecutor", True),
    ],
)
def test_pod_template_only_for_the_kubernetes_executor(render, executor, pod_template):
    rendered = render({"executor": executor})
    assert (rendered.find("ConfigMap", PREFIX + "pod-template") is not None) is pod_template
    scheduler = pod_spec(rendered.get("Deployment", PREFIX + "scheduler"))
    mounts = {m["mountPath"] for m in container(scheduler, "scheduler")["volumeMounts"]}
    assert ("/opt/airflow/pod_templates" in mounts) is pod_template
    if pod_template:
        kube = airflow_cfg(rendered)["kubernetes_executor"]
        assert kube["pod_template_file"] == "/opt/airflow/pod_templates/pod_template_file.yaml"
        assert kube["namespace"] == "airflow"


@pytest.mark.parametrize(
    ("values", "name", "args"),
    [
        ({}, "api-server", ["api-server"]),
        (AIRFLOW2, "webserver", ["webserver", "--pid", "/tmp/airflow-webserver.pid"]),
        ({}, "scheduler", ["scheduler"]),
        ({}, "dag-processor", ["dag-processor"]),
        ({}, "triggerer", ["triggerer"]),
        ({}, "worker", ["celery", "worker"]),
        ({"flower": {"enabled": True}}, "flower", ["celery", "flower"]),
        ({"scheduler": {"args": ["scheduler", "--num-runs", "10"]}}, "scheduler", ["scheduler", "--num-runs", "10"]),
    ],
)
def test_container_args_go_through_the_image_entrypoint(render, values, name, args):
    workload = workloads(render(values))[name]
    main = container(pod_spec(workload), name)
    assert main["args"] == args
    assert "command" not in main, "the image's dumb-init entrypoint must stay in charge"


@pytest.mark.parametrize(
    ("values", "name", "probe", "expected"),
    [
        ({}, "api-server", "livenessProbe", {"httpGet": {"path": "/api/v2/monitor/health", "port": "http"}}),
        ({}, "api-server", "readinessProbe", {"httpGet": {"path": "/api/v2/monitor/health", "port": "http"}}),
        ({}, "api-server", "startupProbe", {"httpGet": {"path": "/api/v2/monitor/health", "port": "http"}}),
        (AIRFLOW2, "webserver", "livenessProbe", {"httpGet": {"path": "/health", "port": "http"}}),
        ({}, "scheduler", "livenessProbe", {"httpGet": {"path": "/health", "port": "health"}}),
        (
            {},
            "dag-processor",
            "livenessProbe",
            {"exec": {"command": ["airflow", "jobs", "check", "--job-type", "DagProcessorJob", "--local"]}},
        ),
        (
            {},
            "triggerer",
            "livenessProbe",
            {"exec": {"command": ["airflow", "jobs", "check", "--job-type", "TriggererJob", "--local"]}},
        ),
    ],
)
def test_probes_match_airflow(render, values, name, probe, expected):
    main = container(pod_spec(workloads(render(values))[name]), name)
    got = main[probe]
    for key, value in expected.items():
        assert got[key] == value
    # Under load a check can be slow; a short timeout would restart healthy pods.
    assert got["timeoutSeconds"] >= 10
    if probe != "readinessProbe":
        assert got["failureThreshold"] * got["periodSeconds"] >= 150


def test_scheduler_health_server_is_enabled_for_its_probe(render):
    rendered = render({})
    cfg = airflow_cfg(rendered)["scheduler"]
    assert cfg["enable_health_check"] == "True"
    ports = {
        p["name"]: p["containerPort"]
        for p in container(pod_spec(workloads(rendered)["scheduler"]), "scheduler")["ports"]
    }
    assert str(ports["health"]) == cfg["scheduler_health_check_server_port"]


def test_celery_worker_probe_pings_its_own_node(render):
    probe = container(pod_spec(workloads(render({}))["worker"]), "worker")["livenessProbe"]
    assert probe["exec"]["command"][:2] == ["sh", "-c"]
    assert "inspect ping" in probe["exec"]["command"][2] and "celery@$(hostname)" in probe["exec"]["command"][2]


def test_probes_can_be_switched_off(render):
    main = container(
        pod_spec(workloads(render({"triggerer": {"livenessProbe": {"enabled": False}}}))["triggerer"]), "triggerer"
    )
    assert "livenessProbe" not in main


def test_workers_shut_down_warm(render):
    worker = workloads(render({}))["worker"]
    assert worker["kind"] == "StatefulSet"
    spec = pod_spec(worker)
    assert {"name": "DUMB_INIT_SETSID", "value": "0"} in container(spec, "worker")["env"]
    assert spec["terminationGracePeriodSeconds"] >= 300
    assert worker["spec"]["serviceName"] == PREFIX + "worker"


def test_airflow3_requires_the_dag_processor(renderer):
    import helm_python

    with pytest.raises(helm_python.HelmError, match=r"dagProcessor\.enabled"):
        renderer.render({"dagProcessor": {"enabled": False}})


def test_airflow2_gets_no_airflow3_wiring(render):
    rendered = render(AIRFLOW2)
    cfg = airflow_cfg(rendered)
    assert "execution_api_server_url" not in cfg["core"]
    assert cfg["scheduler"]["standalone_dag_processor"] == "True"
    names = {short(o["metadata"]["name"]) for o in rendered}
    assert "api-server" not in names and "webserver" in names
    env = container(pod_spec(workloads(rendered)["scheduler"]), "scheduler")["env"]
    assert "AIRFLOW__API_AUTH__JWT_SECRET" not in {e["name"] for e in env}


def test_execution_api_url_points_at_the_api_server_service(render):
    rendered = render({"executor": "KubernetesExecutor", "apiServer": {"service": {"port": 8888}}})
    url = airflow_cfg(rendered)["core"]["execution_api_server_url"]
    service = rendered.get("Service", PREFIX + "api-server")
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/execution/"
