"""The image with a read-only root filesystem, on real containers: `docker run --read-only` with a
tmpfs at /tmp and a volume at $AIRFLOW_HOME/logs as the only writable places."""

from __future__ import annotations

import base64
import json
import os
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import docker
import pytest
import requests

from ..compose.stack import AirflowApi, free_port
from ..wheels import make_wheel
from .conftest import Ran

T = TypeVar("T")
STANDIN_POSTGRES = "localhost/standin/postgres:15-bookworm"
LOGS = "/opt/airflow/logs"
SQLITE = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow.db"}
UP_TIMEOUT = 180
DAG_ID = "read_only_root"
# The task reports what happens when it tries to change the installed environment, so the test sees
# it from inside a real task process, not only from a shell.
DAG = textwrap.dedent(
    f'''
    import errno
    import sysconfig
    from pathlib import Path

    from airflow.sdk import dag, task


    @dag(dag_id="{DAG_ID}", schedule=None, catchup=False)
    def read_only_root():
        @task
        def try_to_change_installed_code() -> str:
            target = Path(sysconfig.get_paths()["purelib"]) / "planted_by_a_task.py"
            try:
                target.write_text("x = 1")
            except OSError as exc:
                outcome = errno.errorcode[exc.errno]
            else:
                outcome = "WRITTEN"
            print("site-packages write from the task:", outcome)
            return outcome

        try_to_change_installed_code()


    read_only_root()
    '''
)
# Every way a process could change what is installed, each reporting the errno it got.
CHANGE_INSTALLED_CODE = textwrap.dedent(
    """
    import errno, json, os, sysconfig
    from pathlib import Path
    import airflow

    site = Path(sysconfig.get_paths()["purelib"])
    attempts = {
        "new module": lambda: (site / "planted.py").write_text("x = 1"),
        "new .pth": lambda: (site / "zz-planted.pth").write_text("import os"),
        "new package": lambda: (site / "planted_pkg").mkdir(),
        "changed module": lambda: open(airflow.__file__, "a").write("# changed"),
        "removed module": lambda: os.remove(site / "airflow" / "__main__.py"),
        "console script": lambda: open(Path(os.environ["VIRTUAL_ENV"]) / "bin" / "airflow", "a").write("#"),
    }
    outcome = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            outcome[name] = "WRITTEN"
        except OSError as exc:
            outcome[name] = errno.errorcode[exc.errno]
    print("OUTCOME " + json.dumps(outcome))
    """
)


@pytest.fixture
def logs_volume(client) -> Iterator[str]:
    """A named volume: Docker fills it from the image's (empty, group-writable) logs folder."""
    volume = client.volumes.create(name=f"airflow-ro-logs-{uuid.uuid4().hex[:8]}")
    try:
        yield volume.name
    finally:
        volume.remove(force=True)


@pytest.fixture
def dags_folder(tmp_path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "read_only_root.py").write_text(DAG)
    folder.chmod(0o755)
    (folder / "read_only_root.py").chmod(0o644)
    return folder


@pytest.fixture
def read_only(client, logs_volume, dags_folder):
    """Creates containers with nothing writable but a tmpfs at /tmp and the logs volume."""
    created = []

    def _create(image: str, command, *, environment=None, user=None, network="none", name=None, ports=None):
        container = client.containers.create(
            image,
            command,
            environment=environment,
            user=user,
            network=network,
            name=name,
            ports=ports,
            read_only=True,
            tmpfs={"/tmp": ""},
            volumes={
                logs_volume: {"bind": LOGS, "mode": "rw"},
                str(dags_folder): {"bind": "/opt/airflow/dags", "mode": "ro"},
            },
        )
        created.append(container)
        return container

    yield _create
    for container in created:
        # a test that made a network has removed its containers before the network
        with suppress(docker.errors.NotFound):
            container.remove(force=True)


def _run(container, *, timeout: int = 300) -> Ran:
    started = time.monotonic()
    container.start()
    status = container.wait(timeout=timeout)
    output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    return Ran(status["StatusCode"], output, time.monotonic() - started)


def test_root_filesystem_is_really_read_only(read_only, small_image):
    ran = _run(
        read_only(
            small_image,
            ["bash", "-c", f"touch /opt/airflow/x 2>&1; touch /home/airflow/x 2>&1; touch /tmp/x {LOGS}/x && echo ok"],
        )
    )
    assert ran.exit_code == 0, ran.output
    assert ran.output.count("Read-only file system") == 2, ran.output
    assert "ok" in ran.output.splitlines()


def test_migrate_on_sqlite_and_task_test(read_only, small_image):
    ran = _run(
        read_only(
            small_image,
            ["bash", "-c", f"airflow db migrate && airflow tasks test {DAG_ID} try_to_change_installed_code"],
            environment={**SQLITE, "AIRFLOW__CORE__LOAD_EXAMPLES": "false"},
        )
    )
    assert ran.exit_code == 0, ran.output
    assert "AIRFLOW_HOME is read-only: the configuration Airflow writes goes to /tmp/airflow-home/airflow.cfg" in (
        ran.output
    )
    assert "Database migration done" in ran.output
    assert "site-packages write from the task: EROFS" in ran.output
    assert "new_state=success" in ran.output  # the task instance, as the execution API recorded it


def test_an_arbitrary_uid_works_without_a_passwd_entry(read_only, small_image):
    # OpenShift's random uid: /etc/passwd cannot take an entry, and Airflow refuses a nameless user.
    ran = _run(
        read_only(
            small_image,
            ["bash", "-c", "echo user=$USER; airflow db migrate"],
            environment=SQLITE,
            user="98765:0",
        )
    )
    assert ran.exit_code == 0, ran.output
    assert "user=airflow-98765" in ran.output
    assert "Database migration done" in ran.output


def test_installed_python_environment_cannot_be_changed(read_only, small_image, tmp_path, client):
    # The default user owns the virtualenv; only the read-only root keeps it unchanged.
    ran = _run(read_only(small_image, ["python", "-c", CHANGE_INSTALLED_CODE]))
    assert ran.exit_code == 0, ran.output
    outcome = json.loads(ran.output.split("OUTCOME ", 1)[1].splitlines()[0])
    assert outcome == dict.fromkeys(outcome, "EROFS") and len(outcome) == 6, outcome

    wheels = tmp_path / "wheels"
    wheels.mkdir(mode=0o755)
    wheel = make_wheel(wheels, "planted-package", "1.0")
    wheel.chmod(0o644)
    installer = client.containers.create(
        small_image,
        ["bash", "-c", f"pip install --no-index /wheels/{wheel.name}; python -c 'import planted_package'"],
        network="none",
        read_only=True,
        tmpfs={"/tmp": ""},
        volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}},
    )
    try:
        ran = _run(installer)
    finally:
        installer.remove(force=True)
    assert "Read-only file system" in ran.output, ran.output
    assert "No module named 'planted_package'" in ran.output, ran.output
    assert ran.exit_code != 0


def test_each_container_generates_its_own_secrets_none_ship_in_the_image(read_only, small_image):
    shipped = _run(read_only(small_image, ["bash", "-c", "echo IN_HOME $(ls -A /opt/airflow)"]))
    listed = next(line for line in shipped.output.splitlines() if line.startswith("IN_HOME"))
    assert listed.split()[1:] == ["config", "dags", "logs", "plugins"], shipped.output
    keys = []
    for _ in range(2):
        ran = _run(
            read_only(
                small_image,
                [
                    "bash",
                    "-c",
                    "echo FERNET=$(airflow config get-value core fernet_key);"
                    " echo JWT=$(airflow config get-value api_auth jwt_secret)",
                ],
            )
        )
        assert ran.exit_code == 0, ran.output
        values = dict(line.split("=", 1) for line in ran.output.splitlines() if line.startswith(("FERNET=", "JWT=")))
        assert len(base64.urlsafe_b64decode(values["FERNET"])) == 32 and values["JWT"], ran.output
        keys.append((values["FERNET"], values["JWT"]))
    assert keys[0][0] != keys[1][0] and keys[0][1] != keys[1][1]


def _wait_until(what: str, probe: Callable[[], T | None], *, timeout: float, every: float = 2.0) -> T:
    """Calls probe until it returns something truthy; a connection error counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except requests.RequestException as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")
        time.sleep(every)


@contextmanager
def _network(client) -> Iterator[str]:
    network = client.networks.create(f"airflow-ro-{uuid.uuid4().hex[:8]}")
    try:
        yield network.name
    finally:
        network.remove()


def _status(container) -> str:
    container.reload()
    return container.status


def test_postgres_scheduler_and_api_server(client, read_only, small_image):
    """Migrate PostgreSQL, start the API server, scheduler (as an arbitrary uid) and DAG processor, wait
    for their health checks, log in with the generated password and run the DAG to success."""
    suffix = uuid.uuid4().hex[:8]
    api_name = f"airflow-ro-api-{suffix}"
    api_port = free_port()
    environment = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:pg-pw@airflow-ro-pg-{suffix}/airflow",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(os.urandom(24)).decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{api_name}:8080/execution/",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
    }
    with _network(client) as network:
        postgres = client.containers.run(
            STANDIN_POSTGRES,
            name=f"airflow-ro-pg-{suffix}",
            network=network,
            environment={"POSTGRES_USER": "airflow", "POSTGRES_PASSWORD": "pg-pw", "POSTGRES_DB": "airflow"},
            detach=True,
        )
        try:
            migrated = _run(read_only(small_image, ["db", "migrate"], environment=environment, network=network))
            assert migrated.exit_code == 0, migrated.output
            assert "Database migration done" in migrated.output

            api = read_only(
                small_image,
                ["api-server"],
                environment=environment,
                network=network,
                name=api_name,
                ports={"8080/tcp": ("127.0.0.1", api_port)},
            )
            # an arbitrary uid, as OpenShift runs it
            scheduler = read_only(small_image, ["scheduler"], environment=environment, network=network, user="98765:0")
            dag_processor = read_only(small_image, ["dag-processor"], environment=environment, network=network)
            for container in (api, scheduler, dag_processor):
                container.start()

            def healthy() -> dict | None:
                for container in (api, scheduler, dag_processor):
                    assert _status(container) == "running", container.logs(tail=60).decode("utf-8", "replace")
                health = requests.get(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=5).json()
                statuses = {part: health[part]["status"] for part in ("metadatabase", "scheduler", "dag_processor")}
                return health if set(statuses.values()) == {"healthy"} else None

            _wait_until(
                "the API server reports the metadatabase, scheduler and DAG processor healthy",
                healthy,
                timeout=UP_TIMEOUT,
            )
            # The scheduler's own health server, as a probe inside the container asks it.
            probe = ["curl", "--fail", "--silent", "--max-time", "5", "http://localhost:8974/health"]
            _wait_until(
                "the scheduler's health server answers", lambda: scheduler.exec_run(probe).exit_code == 0, timeout=60
            )

            # The simple auth manager wrote its generated password where the entrypoint pointed it.
            passwords = api.exec_run(["cat", "/tmp/airflow-home/simple_auth_manager_passwords.json.generated"])
            assert passwords.exit_code == 0, passwords.output
            airflow_api = AirflowApi(f"http://127.0.0.1:{api_port}", "admin", json.loads(passwords.output)["admin"])
            airflow_api.login()
            _wait_until("the DAG is parsed", lambda: airflow_api.get(f"/dags/{DAG_ID}", ok_missing=True), timeout=120)
            run_id = airflow_api.trigger(DAG_ID, {})

            def finished() -> str | None:
                state = airflow_api.run_state(DAG_ID, run_id)
                return state if state in ("success", "failed") else None

            state = _wait_until(f"run {run_id} finishes", finished, timeout=180)
            assert state == "success", scheduler.logs(tail=80).decode("utf-8", "replace")
            assert airflow_api.result(DAG_ID, run_id, "try_to_change_installed_code") == "EROFS"
        finally:
            for container in client.containers.list(all=True, filters={"network": network}):
                container.remove(force=True, v=container.id == postgres.id)
