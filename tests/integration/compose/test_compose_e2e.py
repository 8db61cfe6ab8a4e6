"""The generated quick start, for real: `docker compose up --wait`, a DAG run through the REST API,
a scheduler crash mid-task, and `down` + `up` keeping the history. Both executors.

The stack runs the small CI image and, on hosts without Docker Hub, the stand-in postgres/redis
images that dev/setup-host.sh builds; everything else is exactly what `invoke compose` writes.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from airflow_image.compose import generate_quick_start
from airflow_image.compose_env import ADMIN_PASSWORD_KEY, ADMIN_USERNAME_KEY

from .stack import AirflowApi, Stack, free_port, wait_until

DAGS = Path(__file__).parent / "dags"
DAG_ID = "compose_e2e"
EXPECTED_RESULT = {"sum": 30, "count": 4}  # produce → transform (squares) → summarise, all through XCom
STANDIN_POSTGRES = "localhost/standin/postgres:15-bookworm"
STANDIN_REDIS = "localhost/standin/redis:7-bookworm"
UP_TIMEOUT = 180
RUN_TIMEOUT = 120
RECOVERY_TIMEOUT = 180  # the bound: the crashed run succeeds within 3 minutes of the kill
SLOW_TASK_SECONDS = 20


def _service_image(runner, official: str, standin: str) -> str:
    """The official image where it exists locally, else the stand-in; a host with neither fails here."""
    for ref in (official, standin):
        if runner.run(["docker", "image", "inspect", ref], capture=True, check=False, quiet=True).returncode == 0:
            return ref
    raise AssertionError(f"neither {official} nor {standin} exists; run `bash dev/setup-host.sh service-images`")


@pytest.fixture(params=["local", "celery"])
def stack(request, tmp_path, settings, matrix, runner, small_image):
    executor = request.param
    quick_start = generate_quick_start(
        settings,
        matrix,
        host_uid=os.getuid(),
        output=tmp_path / "docker-compose.yaml",
        executor=executor,
        image=small_image,
        postgres_image=_service_image(runner, "postgres:16", STANDIN_POSTGRES),
        redis_image=_service_image(runner, "redis:7", STANDIN_REDIS),
        api_port=free_port(),
    )
    shutil.copytree(DAGS, tmp_path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    project = Stack(
        runner,
        project=f"af-compose-{executor}-{uuid.uuid4().hex[:8]}",
        compose_file=quick_start.compose_file,
        env_file=quick_start.env.path,
    )
    api = AirflowApi(
        f"http://127.0.0.1:{quick_start.options.api_port}",
        quick_start.env.values[ADMIN_USERNAME_KEY],
        quick_start.env.values[ADMIN_PASSWORD_KEY],
    )
    yield executor, project, api
    project.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)


def _start(project: Stack, api: AirflowApi) -> None:
    project.up(timeout=UP_TIMEOUT)
    api.login()
    health = api.get("/monitor/health")
    assert {k: v["status"] for k, v in health.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }


def _wait_for_success(api: AirflowApi, run_id: str, *, timeout: float) -> None:
    def succeeded() -> bool:
        state = api.run_state(DAG_ID, run_id)
        assert state != "failed", f"run {run_id} failed"
        return state == "success"

    wait_until(f"run {run_id} succeeds", succeeded, timeout=timeout)


def _crash_scheduler_mid_task(executor: str, project: Stack, api: AirflowApi) -> None:
    worker_before = project.container("airflow-worker") if executor == "celery" else None
    run_id = api.trigger(DAG_ID, {"sleep_seconds": SLOW_TASK_SECONDS})
    wait_until("transform is running", lambda: api.task_state(DAG_ID, run_id, "transform") == "running", timeout=90)
    scheduler = project.container("airflow-scheduler")
    # A real crash: `docker kill` counts as a manual stop, and the restart policy ignores it.
    os.kill(scheduler["State"]["Pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    restarted = wait_until(
        "compose restarts the scheduler",
        lambda: (c := project.container("airflow-scheduler"))["RestartCount"] > scheduler["RestartCount"]
        and c["State"]["Running"]
        and c,
        timeout=60,
    )
    assert restarted["State"]["Pid"] != scheduler["State"]["Pid"]
    _wait_for_success(api, run_id, timeout=RECOVERY_TIMEOUT - (time.monotonic() - killed_at))
    assert api.result(DAG_ID, run_id, "summarise") == EXPECTED_RESULT
    if executor == "local":
        # The task was the scheduler's child and died with it: only the retry can have succeeded.
        transform = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/transform")
        assert transform["try_number"] == 2, transform
    if worker_before is not None:
        worker_after = project.container("airflow-worker")
        assert worker_after["State"]["Running"]
        assert (worker_after["RestartCount"], worker_after["State"]["StartedAt"]) == (
            worker_before["RestartCount"],
            worker_before["State"]["StartedAt"],
        ), "the Celery worker restarted with the scheduler"


def test_quick_start_runs_a_dag_survives_a_scheduler_crash_and_keeps_history(stack):
    executor, project, api = stack
    started = time.monotonic()

    def phase(name: str) -> None:
        print(f"[{executor}] {time.monotonic() - started:6.1f} s  {name}")

    try:
        _start(project, api)
        phase("healthy")
        dag = wait_until("the DAG is parsed", lambda: api.get(f"/dags/{DAG_ID}", ok_missing=True), timeout=90)
        assert dag["is_paused"], "the quick start pauses new DAGs"
        api.send("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})

        first = api.trigger(DAG_ID, {})
        _wait_for_success(api, first, timeout=RUN_TIMEOUT)
        assert api.result(DAG_ID, first, "summarise") == EXPECTED_RESULT
        phase("first run succeeded")

        _crash_scheduler_mid_task(executor, project, api)
        phase("run interrupted by the scheduler crash succeeded")

        project.compose("down", "--timeout", "10")
        _start(project, api)
        runs = api.get(f"/dags/{DAG_ID}/dagRuns")
        assert runs["total_entries"] == 2
        assert {r["state"] for r in runs["dag_runs"]} == {"success"}
        assert first in {r["dag_run_id"] for r in runs["dag_runs"]}
        phase("history kept through down + up")
    except BaseException:
        print(project.logs())
        raise
