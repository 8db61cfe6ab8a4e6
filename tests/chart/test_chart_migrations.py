"""The migration and create-user Jobs: Helm hooks by default, ordinary Jobs for GitOps tools, and
wait-for-migrations init containers that do not time out during a long migration."""

from __future__ import annotations

import pytest
from chart_scenarios import AIRFLOW2, PREFIX, container, pod_spec, short, workloads

HOOK = "helm.sh/hook"
NO_HOOKS = {"migrateDatabaseJob": {"useHelmHooks": False}, "createUserJob": {"enabled": True, "useHelmHooks": False}}


def _jobs(rendered) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered.of_kind("Job")}


def _hooked(rendered) -> list[str]:
    return [
        f"{o['kind']}/{o['metadata']['name']}" for o in rendered if HOOK in (o["metadata"].get("annotations") or {})
    ]


def test_migrations_run_as_a_post_install_and_upgrade_hook_by_default(render):
    job = render({}).get("Job", PREFIX + "migrate-db")
    annotations = job["metadata"]["annotations"]
    assert annotations[HOOK] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    main = container(pod_spec(job), "migrate-db")
    assert main["args"] == ["db", "migrate"]
    assert {"name": "CONNECTION_CHECK_MAX_COUNT", "value": "600"} in main["env"]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_only_the_jobs_are_hooks(render):
    assert sorted(_hooked(render({"createUserJob": {"enabled": True}}))) == [
        "Job/" + PREFIX + "create-user",
        "Job/" + PREFIX + "migrate-db",
    ]


def test_create_user_runs_after_migrations(render):
    jobs = _jobs(render({"createUserJob": {"enabled": True}}))
    weight = {n: int(j["metadata"]["annotations"]["helm.sh/hook-weight"]) for n, j in jobs.items()}
    assert weight[PREFIX + "migrate-db"] < weight[PREFIX + "create-user"]


@pytest.mark.parametrize("scenario", [NO_HOOKS, {**NO_HOOKS, **AIRFLOW2}])
def test_without_hooks_nothing_is_a_hook(render, scenario):
    rendered = render(scenario)
    assert _hooked(rendered) == []
    assert len(rendered.of_kind("Job")) == 2
    for job in rendered.of_kind("Job"):
        # A finished Job that disappears would be recreated (and rerun) by a GitOps tool.
        assert "ttlSecondsAfterFinished" not in job["spec"]


def test_plain_job_name_follows_the_image(render):
    base = {"migrateDatabaseJob": {"useHelmHooks": False}}
    first = set(_jobs(render(base)))
    again = set(_jobs(render({**base, "labels": {"x": "y"}})))
    other = set(_jobs(render({**base, "image": {"tag": "3.3.3-python3.12"}})))
    assert first == again, "the name must be stable while the image is"
    assert first != other, "a new image must give a new Job, which runs the migrations again"
    assert all(name.startswith(PREFIX + "migrate-db-") and len(name) <= 63 for name in first | other)


def test_migration_job_can_be_disabled(render):
    assert _jobs(render({"migrateDatabaseJob": {"enabled": False}})) == {}


@pytest.mark.parametrize("name", ["api-server", "scheduler", "dag-processor", "triggerer", "worker"])
@pytest.mark.parametrize("values", [{}, NO_HOOKS], ids=["hooks", "no-hooks"])
def test_airflow_components_wait_for_migrations(render, name, values):
    init = container(pod_spec(workloads(render(values))[name]), "wait-for-migrations")
    assert init["args"][:2] == ["db", "check-migrations"]
    assert int(init["args"][init["args"].index("--migration-wait-timeout") + 1]) >= 600
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in {e["name"] for e in init["env"]}
    # The entrypoint's own database wait must not give up before the migration wait does.
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert int(env["CONNECTION_CHECK_MAX_COUNT"]) * int(env["CONNECTION_CHECK_SLEEP_TIME"]) >= 1800


def test_waiting_can_be_turned_off(render):
    for name, workload in workloads(render({"waitForMigrations": {"enabled": False}})).items():
        names = [c["name"] for c in pod_spec(workload).get("initContainers", [])]
        assert "wait-for-migrations" not in names, name


def test_services_do_not_wait_for_migrations(render):
    for name in ("postgresql", "redis"):
        assert "initContainers" not in pod_spec(workloads(render({}))[name])


def test_create_user_job_takes_its_password_from_a_secret(render):
    job = render(
        {
            "createUserJob": {
                "enabled": True,
                "username": "root",
                "password": {"existingSecret": "admin", "existingSecretKey": "pw"},
            }
        }
    )
    main = container(pod_spec(job.get("Job", PREFIX + "create-user")), "create-user")
    args = main["args"]
    assert args[:2] == ["users", "create"]
    assert args[args.index("--username") + 1] == "root"
    assert args[args.index("--password") + 1] == "$(ADMIN_PASSWORD)"
    assert {"name": "ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "admin", "key": "pw"}}} in main["env"]


def test_create_user_selects_the_fab_auth_manager_on_airflow3(render):
    from chart_scenarios import airflow_cfg

    assert airflow_cfg(render({"createUserJob": {"enabled": True}}))["core"]["auth_manager"].endswith("FabAuthManager")
    assert "auth_manager" not in airflow_cfg(render({}))["core"]


def test_jobs_are_named_per_component(render):
    assert {short(n) for n in _jobs(render({"createUserJob": {"enabled": True}}))} == {"migrate-db", "create-user"}


@pytest.mark.parametrize(("values", "hinted"), [({}, True), (NO_HOOKS, False)])
def test_notes_point_gitops_users_at_plain_jobs(render, values, hinted):
    notes = render(values).notes
    assert "kubectl port-forward" in notes and "svc/rel-airflow-api-server" in notes
    assert ("useHelmHooks=false" in notes) is hinted
