"""Availability and exposure: replicas vs autoscalers, KEDA, PodDisruptionBudgets, scheduling
knobs, Services, Ingress and HTTPRoute."""

from __future__ import annotations

import pytest
from chart_scenarios import KITCHEN_SINK, PREFIX, SCENARIOS, SPREAD, pod_spec, short, workloads


@pytest.mark.parametrize(
    ("values", "name", "kind"),
    [
        ({"apiServer": {"hpa": {"enabled": True}}}, "api-server", "Deployment"),
        ({"workers": {"hpa": {"enabled": True}}}, "worker", "StatefulSet"),
    ],
)
def test_hpa_owns_the_replicas(render, values, name, kind):
    rendered = render(values)
    assert "replicas" not in workloads(rendered)[name]["spec"], "replicas would fight the HPA on every upgrade"
    hpa = rendered.get("HorizontalPodAutoscaler", PREFIX + name)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": kind, "name": PREFIX + name}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


@pytest.mark.parametrize(
    ("values", "replicas"), [({}, 1), ({"workers": {"replicas": 4}}, 4), ({"workers": {"replicas": 0}}, 0)]
)
def test_fixed_replicas_without_autoscaling(render, values, replicas):
    assert workloads(render(values))["worker"]["spec"]["replicas"] == replicas


def test_keda_scales_workers_on_queued_and_running_tasks(render):
    rendered = render({"workers": {"keda": {"enabled": True, "maxReplicaCount": 7}, "concurrency": 8}})
    assert "replicas" not in workloads(rendered)["worker"]["spec"]
    scaled = rendered.get("ScaledObject", PREFIX + "worker")
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": PREFIX + "worker",
    }
    assert scaled["spec"]["maxReplicaCount"] == 7
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "postgresql"
    assert "/ 8)" in trigger["metadata"]["query"] and "'queued'" in trigger["metadata"]["query"]
    assert trigger["metadata"]["host"] == PREFIX + "postgresql" and trigger["metadata"]["sslmode"] == "disable"
    auth = rendered.get("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": PREFIX + "secrets", "key": "database-password"}
    ]


def test_keda_with_a_connection_secret(render):
    rendered = render(SCENARIOS["keda-connection-secret"])
    metadata = rendered.get("ScaledObject", PREFIX + "worker")["spec"]["triggers"][0]["metadata"]
    assert set(metadata) == {"query", "targetQueryValue"}
    auth = rendered.get("TriggerAuthentication", PREFIX + "worker")
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "connection", "name": "my-db", "key": "url"}]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"workers": {"keda": {"enabled": True}, "hpa": {"enabled": True}}}, "enable one"),
        ({"workers": {"keda": {"enabled": True}}, "database": {"dialect": "mysql"}}, "PostgreSQL"),
        ({"httpRoute": {"apiServer": {"enabled": True}}}, "parentRefs"),
    ],
)
def test_contradictory_values_fail_with_a_reason(renderer, values, message):
    import helm_python

    with pytest.raises(helm_python.HelmError, match=message):
        renderer.render(values)


@pytest.mark.parametrize(
    ("values", "name", "expected"),
    [
        ({"scheduler": {"pdb": {"enabled": True}}}, "scheduler", {"maxUnavailable": 1}),
        ({"apiServer": {"pdb": {"enabled": True, "minAvailable": "50%"}}}, "api-server", {"minAvailable": "50%"}),
        ({"dagProcessor": {"pdb": {"enabled": True, "minAvailable": 1}}}, "dag-processor", {"minAvailable": 1}),
        ({"triggerer": {"pdb": {"enabled": True, "maxUnavailable": "25%"}}}, "triggerer", {"maxUnavailable": "25%"}),
        ({"workers": {"pdb": {"enabled": True}}}, "worker", {"maxUnavailable": 1}),
        ({"pgbouncer": {"enabled": True, "pdb": {"enabled": True}}}, "pgbouncer", {"maxUnavailable": 1}),
    ],
)
def test_pod_disruption_budgets(render, values, name, expected):
    rendered = render(values)
    pdb = rendered.get("PodDisruptionBudget", PREFIX + name)
    assert {k: v for k, v in pdb["spec"].items() if k != "selector"} == expected
    labels = workloads(rendered)[name]["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_no_pdbs_by_default(render):
    assert render({}).of_kind("PodDisruptionBudget") == []


def test_component_scheduling_wins_over_global(render):
    rendered = render(SCENARIOS["scheduling"])
    scheduler, worker = pod_spec(workloads(rendered)["scheduler"]), pod_spec(workloads(rendered)["worker"])
    assert scheduler["nodeSelector"] == {"pool": "scheduler"} and worker["nodeSelector"] == {"pool": "airflow"}
    assert scheduler["priorityClassName"] == "critical" and worker["priorityClassName"] == "airflow"
    assert worker["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert "nodeAffinity" in worker["affinity"]


@pytest.mark.parametrize("name", ["api-server", "scheduler", "worker", "redis"])
def test_spread_constraints_get_the_component_selector(render, name):
    workload = workloads(render(SCENARIOS["scheduling"]))[name]
    constraint = pod_spec(workload)["topologySpreadConstraints"][0]
    assert constraint["topologyKey"] == SPREAD["topologyKey"]
    assert constraint["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]


def test_explicit_spread_selector_is_kept(render):
    own = {**SPREAD, "labelSelector": {"matchLabels": {"custom": "yes"}}}
    constraint = pod_spec(workloads(render({"topologySpreadConstraints": [own]}))["scheduler"])[
        "topologySpreadConstraints"
    ][0]
    assert constraint["labelSelector"] == {"matchLabels": {"custom": "yes"}}


def test_services_select_their_pods(render):
    rendered = render(KITCHEN_SINK)
    pods = {
        short(w["metadata"]["name"]): w["spec"]["template"]["metadata"]["labels"] for w in workloads(rendered).values()
    }
    for service in rendered.of_kind("Service"):
        name = short(service["metadata"]["name"])
        assert service["spec"]["selector"].items() <= pods[name].items(), name
        ports = {p["name"] for c in pod_spec(workloads(rendered)[name])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)


def test_ingress_routes_to_the_api_server_service(render):
    rendered = render(KITCHEN_SINK)
    ingress = rendered.get("Ingress", PREFIX + "api-server")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "airflow-tls", "hosts": ["airflow.example.com"]}]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "airflow.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    service = rendered.get("Service", backend["name"])
    assert backend["port"]["number"] == service["spec"]["ports"][0]["port"]
    assert "host" not in rendered.get("Ingress", PREFIX + "flower")["spec"]["rules"][0]


def test_httproute_attaches_to_the_gateway(render):
    rendered = render(KITCHEN_SINK)
    route = rendered.get("HTTPRoute", PREFIX + "api-server")
    assert route["spec"]["parentRefs"] == [{"name": "gateway", "namespace": "infra"}]
    assert route["spec"]["hostnames"] == ["airflow.example.com"]
    backend = route["spec"]["rules"][0]["backendRefs"][0]
    assert rendered.get("Service", backend["name"])["spec"]["ports"][0]["port"] == backend["port"]


@pytest.mark.parametrize("kind", ["Ingress", "HTTPRoute"])
def test_no_exposure_by_default(render, kind):
    assert render({}).of_kind(kind) == []


def test_flower_exposure_needs_flower(render):
    rendered = render({"ingress": {"flower": {"enabled": True}}})
    assert rendered.find("Ingress", PREFIX + "flower") is None


def test_extra_objects_are_rendered_as_templates(render):
    rendered = render(
        {
            "extraObjects": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ .Release.Name }}-a"}},
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-b\nstringData:\n  k: v\n",
            ]
        }
    )
    assert rendered.find("ConfigMap", "rel-a") is not None and rendered.find("Secret", "rel-b") is not None
