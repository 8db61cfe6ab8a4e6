"""Stopping containers: quick and clean for Airflow components, warm for Celery-style workers."""

from __future__ import annotations

import time

import pytest

SQLITE_MIGRATED = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow.db",
    "_AIRFLOW_DB_MIGRATE": "true",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
}
READY_PROBES = {
    "scheduler": ["airflow", "jobs", "check", "--job-type", "SchedulerJob", "--local"],
    "api-server": ["curl", "-sf", "http://127.0.0.1:8080/api/v2/monitor/health"],
}
# The scheduler's job row exists before its LocalExecutor has started one worker per parallelism slot.
# Stopped in that burst, Airflow's scheduler waits for the workers past docker's 10 s and is killed
# (seen in CI; reproduced 2 times in 3 by stopping at the first "Worker starting up", against 1.2 s
# every time once all had started). That is Airflow's start-up, not the image's signal handling, which
# is what this test is about: the scheduler counts as running once every worker has started.
PARALLELISM = 4
READY_LOG_LINES = {"scheduler": ("Worker starting up", PARALLELISM), "api-server": ("", 0)}


def wait_until(container, probe, *, log_line: tuple[str, int] = ("", 0), timeout: float) -> None:
    deadline = time.monotonic() + timeout
    line, count = log_line
    while time.monotonic() < deadline:
        container.reload()
        assert container.status == "running", container.logs().decode()[-2000:]
        if container.logs().decode().count(line) >= count and container.exec_run(probe).exit_code == 0:
            return
        time.sleep(2)
    raise AssertionError(f"not ready after {timeout} s: {container.logs().decode()[-2000:]}")


@pytest.mark.parametrize("component", ["scheduler", "api-server"])
def test_docker_stop_ends_a_component_quickly_and_cleanly(client, small_image, component):
    environment = {**SQLITE_MIGRATED, "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM)}
    container = client.containers.run(
        small_image, [component], environment=environment, detach=True, network_mode="none"
    )
    try:
        wait_until(container, READY_PROBES[component], log_line=READY_LOG_LINES[component], timeout=150)
        started = time.monotonic()
        container.stop(timeout=10)
        stopped_after = time.monotonic() - started
        exit_code = container.wait(timeout=30)["StatusCode"]
        logs = container.logs().decode()[-3000:]
    finally:
        container.remove(force=True)
    assert exit_code in (0, 143), f"{component} exited {exit_code} (137 means it had to be killed):\n{logs}"
    assert stopped_after < 10


# A parent that, like a Celery worker's main process, finishes its running child on SIGTERM.
WARM_SHUTDOWN = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import time; time.sleep(4); open('/tmp/child-done', 'w').write('ok')"])
def on_term(*_):
    child.wait()
    print("child", "finished" if os.path.exists("/tmp/child-done") else f"killed {child.returncode}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(("setsid", "outcome"), [("0", "child finished"), ("1", "child killed -15")])
def test_init_process_group_behaviour_is_switchable(client, small_image, setsid, outcome):
    container = client.containers.run(
        small_image,
        ["python", "-c", WARM_SHUTDOWN],
        detach=True,
        network_mode="none",
        environment={"DUMB_INIT_SETSID": setsid},
    )
    try:
        deadline = time.monotonic() + 30
        while b"ready" not in container.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        container.stop(timeout=10)
        exit_code = container.wait(timeout=30)["StatusCode"]
        output = container.logs().decode()
    finally:
        container.remove(force=True)
    assert outcome in output, output
    assert exit_code == 0
