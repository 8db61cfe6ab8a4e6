"""Shared secrets: generated once and kept across upgrades (the chart looks its Secret up), taken
from Secrets the user names without any lookup (GitOps), or refused when generation is off.

"Upgrade with an existing Secret" is rendered by the real Helm engine against a KubeStandIn, a
stand-in API server on 127.0.0.1 that serves the Secret to the chart's `lookup`.
"""

from __future__ import annotations

import base64

import pytest
from chart_scenarios import ALL_EXISTING, PREFIX, container, env_of, pod_spec, workloads

from airflow_image.chart.kube_standin import KubeStandIn
from airflow_image.chart.render import NAMESPACE

SECRET = PREFIX + "secrets"
DEFAULT_KEYS = {"fernet-key", "jwt-secret", "webserver-secret-key", "database-password", "redis-password"}


def _stored(values: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": SECRET, "namespace": NAMESPACE},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def _data(rendered) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in rendered.get("Secret", SECRET)["data"].items()}


def test_install_generates_every_secret_the_defaults_need(render):
    data = _data(render({}))
    assert set(data) == DEFAULT_KEYS
    assert all(len(v) >= 32 for v in data.values())


def test_generated_fernet_key_is_a_valid_fernet_key(render):
    key = _data(render({}))["fernet-key"]
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert "+" not in key and "/" not in key


def test_offline_renders_generate_new_values_each_time(renderer):
    """Why the lookup matters: without one, every render is a new secret."""
    first, second = _data(renderer.render({})), _data(renderer.render({}))
    assert first["fernet-key"] != second["fernet-key"]


@pytest.mark.network
def test_upgrade_keeps_the_secrets_found_in_the_cluster(renderer):
    kept = {key: f"kept-{key}" for key in DEFAULT_KEYS}
    with KubeStandIn([_stored(kept)]) as cluster:
        rendered = renderer.render({}, upgrade=True, cluster=cluster)
        assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}" in cluster.object_requests()
    assert _data(rendered) == kept


@pytest.mark.network
def test_upgrade_generates_only_what_the_cluster_lacks(renderer):
    kept = {key: f"kept-{key}" for key in DEFAULT_KEYS}
    with KubeStandIn([_stored(kept)]) as cluster:
        rendered = renderer.render({"createUserJob": {"enabled": True}}, upgrade=True, cluster=cluster)
    data = _data(rendered)
    assert {k: data[k] for k in kept} == kept
    assert len(data["admin-password"]) == 32 and not data["admin-password"].startswith("kept-")


@pytest.mark.network
def test_a_secret_of_another_release_is_not_used(renderer):
    other = _stored({"fernet-key": "other"})
    other["metadata"]["name"] = "other-airflow-secrets"
    with KubeStandIn([other]) as cluster:
        rendered = renderer.render({}, upgrade=True, cluster=cluster)
    assert _data(rendered)["fernet-key"] != "other"


@pytest.mark.network
def test_existing_secrets_render_the_same_with_and_without_lookup_data(renderer):
    offline = renderer.render(ALL_EXISTING, upgrade=True)
    # The cluster holds a chart Secret with other values: nothing may be read from it.
    with KubeStandIn([_stored({key: "from-cluster" for key in DEFAULT_KEYS})]) as cluster:
        online = renderer.render(ALL_EXISTING, upgrade=True, cluster=cluster)
        assert cluster.object_requests() == [], "the existingSecret path must not look anything up"
    assert offline.objects == online.objects
    assert offline.find("Secret", SECRET) is None


@pytest.mark.network
def test_literal_values_need_no_lookup(renderer):
    values = {
        "secrets": {
            "fernetKey": {"value": "f" * 43 + "="},
            "jwtSecret": {"value": "j"},
            "webserverSecretKey": {"value": "w"},
        },
        "database": {"password": {"value": "d"}},
        "redis": {"password": {"value": "r"}},
    }
    with KubeStandIn([_stored({key: "from-cluster" for key in DEFAULT_KEYS})]) as cluster:
        rendered = renderer.render(values, upgrade=True, cluster=cluster)
        assert cluster.object_requests() == []
    assert _data(rendered) == {
        "fernet-key": "f" * 43 + "=",
        "jwt-secret": "j",
        "webserver-secret-key": "w",
        "database-password": "d",
        "redis-password": "r",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secrets": {"generateMissing": False}}, "secrets.fernetKey"),
        (
            {
                "secrets": {
                    "generateMissing": False,
                    "fernetKey": {"value": "x"},
                    "jwtSecret": {"value": "x"},
                    "webserverSecretKey": {"value": "x"},
                }
            },
            "database.password",
        ),
        ({"postgresql": {"enabled": False}, "database": {"host": "db"}}, "database.password"),
        ({"postgresql": {"enabled": False}}, "database.host"),
        ({"redis": {"enabled": False}}, "broker.url"),
    ],
)
def test_missing_secrets_fail_the_render_naming_the_value(renderer, values, message):
    import helm_python

    with pytest.raises(helm_python.HelmError, match=message.replace(".", r"\.")):
        renderer.render(values)


@pytest.mark.network
def test_generation_off_still_reuses_what_the_cluster_has(renderer):
    kept = {key: f"kept-{key}" for key in DEFAULT_KEYS}
    with KubeStandIn([_stored(kept)]) as cluster:
        rendered = renderer.render({"secrets": {"generateMissing": False}}, upgrade=True, cluster=cluster)
    assert _data(rendered) == kept


@pytest.mark.parametrize(
    ("variable", "values", "ref"),
    [
        ("AIRFLOW__CORE__FERNET_KEY", {}, {"name": SECRET, "key": "fernet-key"}),
        ("AIRFLOW__API_AUTH__JWT_SECRET", {}, {"name": SECRET, "key": "jwt-secret"}),
        ("AIRFLOW__API__SECRET_KEY", {}, {"name": SECRET, "key": "webserver-secret-key"}),
        ("AIRFLOW_DB_PASSWORD", {}, {"name": SECRET, "key": "database-password"}),
        ("REDIS_PASSWORD", {}, {"name": SECRET, "key": "redis-password"}),
        ("AIRFLOW__CORE__FERNET_KEY", ALL_EXISTING, {"name": "my-fernet", "key": "key"}),
        ("AIRFLOW__API_AUTH__JWT_SECRET", ALL_EXISTING, {"name": "my-jwt", "key": "jwt-secret"}),
        ("AIRFLOW__API__SECRET_KEY", ALL_EXISTING, {"name": "my-web", "key": "webserver-secret-key"}),
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ALL_EXISTING, {"name": "my-db", "key": "url"}),
        ("REDIS_PASSWORD", ALL_EXISTING, {"name": "my-redis", "key": "password"}),
    ],
)
def test_every_component_reads_the_same_secret(render, variable, values, ref):
    rendered = render(values)
    for name, workload in workloads(rendered).items():
        if name in ("postgresql", "redis"):
            continue
        env = env_of(container(pod_spec(workload), name))
        assert env[variable] == {"secretKeyRef": ref}, name


def test_connection_urls_use_the_secret_passwords_by_reference(render):
    env = env_of(container(pod_spec(workloads(render({}))["worker"]), "worker"))
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == "postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@rel-airflow-postgresql:5432/airflow"
    )
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:$(REDIS_PASSWORD)@rel-airflow-redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
    # $(VAR) expands only from variables defined earlier in the list.
    names = [e["name"] for e in container(pod_spec(workloads(render({}))["worker"]), "worker")["env"]]
    assert (
        names.index("AIRFLOW_DB_PASSWORD")
        < names.index("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        < names.index("AIRFLOW__CELERY__RESULT_BACKEND")
    )


def test_bundled_database_uses_the_same_password(render):
    rendered = render({})
    postgres = env_of(container(pod_spec(workloads(rendered)["postgresql"]), "postgresql"))
    airflow = env_of(container(pod_spec(workloads(rendered)["scheduler"]), "scheduler"))
    assert postgres["POSTGRES_PASSWORD"] == airflow["AIRFLOW_DB_PASSWORD"]


def test_secrets_stay_out_of_the_configmap(render):
    rendered = render({"secrets": {"fernetKey": {"value": "VISIBLE-FERNET"}}})
    assert "VISIBLE-FERNET" not in rendered.get("ConfigMap", PREFIX + "config")["data"]["airflow.cfg"]


@pytest.mark.parametrize(("keep", "annotated"), [(True, True), (False, False)])
def test_the_secret_can_outlive_the_release(render, keep, annotated):
    annotations = (
        render({"secrets": {"keepOnUninstall": keep}}).get("Secret", SECRET)["metadata"].get("annotations", {})
    )
    assert (annotations.get("helm.sh/resource-policy") == "keep") is annotated
