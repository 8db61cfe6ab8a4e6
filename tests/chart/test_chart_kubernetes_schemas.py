"""Every object of every scenario is valid for Kubernetes itself: built-in kinds against the strict
OpenAPI schemas of the chart's minimum and of the newest Kubernetes, custom resources against their
structural schemas; and the KubernetesExecutor's pod template is a valid Pod."""

from __future__ import annotations

import pytest
from chart_scenarios import SCENARIOS, task_pod

from airflow_image.chart.kube_schemas import KUBERNETES_VERSIONS, all_problems, is_custom_resource, problems


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_objects_match_kubernetes_schemas(render, scenario):
    rendered = render(SCENARIOS[scenario])
    assert rendered.objects, "the scenario rendered nothing"
    found = all_problems(rendered.objects)
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("scenario", ["kubernetes", "git-ssh-kubernetes", "read-only-root", "kitchen-sink"])
def test_pod_template_is_a_valid_pod(render, scenario):
    pod = task_pod(render(SCENARIOS[scenario]))
    found = [p for version in KUBERNETES_VERSIONS for p in problems(pod, version)]
    assert not found, "\n".join(map(str, found))


def test_kitchen_sink_covers_every_kind_the_chart_makes(render):
    kinds = {o["kind"] for o in render(SCENARIOS["kitchen-sink"])}
    assert kinds >= {
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "Deployment",
        "StatefulSet",
        "Job",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
        "Ingress",
        "PersistentVolumeClaim",
        "ScaledObject",
        "TriggerAuthentication",
        "HTTPRoute",
    }


def test_validation_rejects_a_broken_object(render):
    """The validators are strict: an unknown field and a wrong type in a pod are both reported."""
    import copy

    deployment = copy.deepcopy(render({}).get("Deployment", "rel-airflow-scheduler"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    deployment["spec"]["replicas"] = "two"
    messages = [p.message for p in all_problems([deployment])]
    assert any("imagePulPolicy" in m for m in messages)
    assert any("'two'" in m for m in messages)


def test_custom_resources_are_checked_structurally(render):
    import copy

    scaled = copy.deepcopy(render(SCENARIOS["keda"]).get("ScaledObject", "rel-airflow-worker"))
    assert is_custom_resource(scaled)
    del scaled["spec"]["scaleTargetRef"]
    assert any("scaleTargetRef" in p.message for p in problems(scaled, KUBERNETES_VERSIONS[0]))
