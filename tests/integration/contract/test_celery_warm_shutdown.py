"""A real Celery worker in the image, stopped while it runs a task.

With DUMB_INIT_SETSID=0 only the worker's main process gets SIGTERM: it stops taking tasks, lets the
running one finish within the grace period and exits (a warm shutdown). With the default (1) the
init signals the whole process group, so the pool process running the task is killed along with it,
which is why a Celery worker's container sets 0, as with the official image.
"""

from __future__ import annotations

import shlex
import time

import pytest

REDIS_IMAGE = "localhost/standin/redis:7-bookworm"

# A plain Celery app on the image's own Celery: the worker side of the signal chain is what matters.
APP = """
import time
from celery import Celery
app = Celery("slow", broker="redis://127.0.0.1:6379/0")

@app.task
def slow():
    time.sleep(8)
    return "finished"
"""

WORKER = (
    f"mkdir -p /tmp/app && printf '%s' {shlex.quote(APP)} >/tmp/app/slow.py && cd /tmp/app "
    "&& exec celery -A slow worker --pool prefork --concurrency 1 --loglevel INFO --without-mingle --without-gossip"
)


def _wait_for(container, text: str, *, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logs = container.logs().decode("utf-8", "replace")
        if text in logs:
            return logs
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not in the logs after {seconds:g} s:\n{container.logs().decode()[-3000:]}")


@pytest.mark.parametrize(("setsid", "task_finishes"), [("0", True), ("1", False)])
def test_docker_stop_lets_the_running_task_finish_only_with_setsid_off(client, small_image, setsid, task_finishes):
    # redis and the worker share one network namespace with no way out: the broker is on 127.0.0.1
    redis = client.containers.run(REDIS_IMAGE, detach=True, network_mode="none")
    worker = None
    try:
        worker = client.containers.run(
            small_image, ["bash", "-c", WORKER], detach=True, network_mode=f"container:{redis.id}",
            environment={"DUMB_INIT_SETSID": setsid},
        )  # fmt: skip
        _wait_for(worker, " ready.", seconds=60)
        sent = worker.exec_run(
            ["python", "-c", "import sys; sys.path.insert(0, '/tmp/app'); from slow import slow; slow.delay()"]
        )
        assert sent.exit_code == 0, sent.output.decode()
        _wait_for(worker, "Task slow.slow[", seconds=30)  # received: the pool process is running it
        started = time.monotonic()
        worker.stop(timeout=30)
        stopped_after = time.monotonic() - started
        exit_code = worker.wait(timeout=30)["StatusCode"]
        logs = worker.logs().decode("utf-8", "replace")
    finally:
        for container in (worker, redis):
            if container is not None:
                container.remove(force=True)
    if task_finishes:
        assert "succeeded in" in logs and "'finished'" in logs, logs[-3000:]
        assert "Warm shutdown" in logs, logs[-3000:]
        assert exit_code in (0, 143), logs[-3000:]
        assert stopped_after < 30, "the worker had to be killed after the grace period"
    else:
        assert "succeeded in" not in logs, logs[-3000:]
        assert "WorkerLostError" in logs or "exited prematurely" in logs, logs[-3000:]
