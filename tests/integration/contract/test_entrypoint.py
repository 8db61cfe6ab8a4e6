"""The entrypoint's contract (official-image compatible), on real containers."""

from __future__ import annotations

import json
import time

import pytest

from ..wheels import make_wheel

SQLITE = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow.db"}
FAST_FAIL = {"CONNECTION_CHECK_MAX_COUNT": "2", "CONNECTION_CHECK_SLEEP_TIME": "0.2"}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (None, "usage: airflow"),
        (["airflow"], "usage: airflow"),
        (["version"], "3."),
        (["airflow", "version"], "3."),
        (["bash", "-c", "echo from-bash $0"], "from-bash /bin/bash"),
        (["python", "-c", "print('from', 'python')"], "from python"),
    ],
)
def test_command_dispatch(run_in, small_image, command, expected):
    ran = run_in(small_image, command)
    assert ran.exit_code == 0, ran.output
    assert expected in ran.output.lower() if expected.islower() else expected in ran.output


@pytest.mark.parametrize(
    ("env", "label", "shown"),
    [
        (
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:s3cr3t-pw@127.0.0.1:1/airflow"},
            "metadata database",
            "postgresql://127.0.0.1:1",
        ),
        (
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "echo mysql://root:s3cr3t-pw@127.0.0.1:2/airflow"},
            "metadata database",
            "mysql://127.0.0.1:2",
        ),
        (
            {**SQLITE, "AIRFLOW__CELERY__BROKER_URL": "redis://:s3cr3t-pw@127.0.0.1:3/0"},
            "Celery broker",
            "redis://127.0.0.1:3",
        ),
    ],
)
def test_unreachable_service_fails_after_bounded_retries_without_leaking_the_password(
    run_in, small_image, env, label, shown
):
    ran = run_in(small_image, ["celery", "worker"], environment={**env, **FAST_FAIL})
    assert ran.exit_code == 1
    errors = [line for line in ran.output.splitlines() if line.startswith("ERROR")]
    assert errors == [
        f"ERROR: cannot reach the {label} at {shown} after 2 attempts "
        "(CONNECTION_CHECK_MAX_COUNT=2, CONNECTION_CHECK_SLEEP_TIME=0.2)"
    ]
    assert "s3cr3t" not in ran.output
    assert ran.seconds < 30


# The simplest real secrets backend that serves configuration: one file per key in a folder. Airflow
# resolves AIRFLOW__{SECTION}__{KEY}_SECRET by asking the configured [secrets] backend's get_config.
FOLDER_BACKEND = """
from pathlib import Path

from airflow.secrets import BaseSecretsBackend


class FolderBackend(BaseSecretsBackend):
    def __init__(self, folder, **kwargs):
        super().__init__(**kwargs)
        self.folder = Path(folder)

    def get_config(self, key):
        path = self.folder / key
        return path.read_text().strip() if path.is_file() else None
"""


@pytest.fixture
def secrets_backend(tmp_path):
    """(environment, volumes) that make Airflow read configuration secrets from files written here."""
    code, secrets = tmp_path / "code", tmp_path / "secrets"
    code.mkdir()
    secrets.mkdir()
    (code / "folder_backend.py").write_text(FOLDER_BACKEND)
    for path in (tmp_path, code, secrets, code / "folder_backend.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's uid

    def write(key: str, value: str) -> None:
        (secrets / key).write_text(value)
        (secrets / key).chmod(0o644)

    environment = {
        "PYTHONPATH": "/secrets-backend",
        "AIRFLOW__SECRETS__BACKEND": "folder_backend.FolderBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": '{"folder": "/secrets"}',
    }
    volumes = {str(code): {"bind": "/secrets-backend", "mode": "ro"}, str(secrets): {"bind": "/secrets", "mode": "ro"}}
    return write, environment, volumes


def test_the_secret_form_of_the_database_connection_is_resolved_and_waited_for(
    run_in, small_image, secrets_backend
):
    write, environment, volumes = secrets_backend
    write("metadata-db-url", "postgresql+psycopg2://airflow:s3cr3t-pw@127.0.0.1:4/airflow")
    ran = run_in(
        small_image,
        ["scheduler"],
        environment={
            **environment,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET": "metadata-db-url",
            **FAST_FAIL,
        },
        volumes=volumes,
    )
    assert ran.exit_code == 1, ran.output
    errors = [line for line in ran.output.splitlines() if line.startswith("ERROR")]
    # the host and port can only have come from the secrets backend
    assert errors == [
        "ERROR: cannot reach the metadata database at postgresql://127.0.0.1:4 after 2 attempts "
        "(CONNECTION_CHECK_MAX_COUNT=2, CONNECTION_CHECK_SLEEP_TIME=0.2)"
    ]
    assert "s3cr3t" not in ran.output


def test_the_secret_form_of_the_database_connection_is_the_address_waited_for(
    client, run_in, small_image, secrets_backend
):
    write, environment, volumes = secrets_backend
    write("metadata-db-url", "postgresql://airflow:s3cr3t-pw@127.0.0.1:5433/airflow")
    # A neighbour listens on the port only the secret names and reports each connection it accepts.
    listener = client.containers.run(
        small_image,
        ["python", "-c", "import socket\ns = socket.create_server(('127.0.0.1', 5433))\nwhile True:\n"
         "    s.accept()[0].close()\n    print('accepted', flush=True)\n"],
        detach=True,
        network_mode="none",
    )  # fmt: skip
    try:
        ran = run_in(
            small_image,
            ["scheduler", "--help"],  # waits for the database only; --help itself connects to nothing
            network_mode=f"container:{listener.id}",
            environment={
                **environment,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET": "metadata-db-url",
                "CONNECTION_CHECK_MAX_COUNT": "40",
                "CONNECTION_CHECK_SLEEP_TIME": "0.5",
            },
            volumes=volumes,
        )
        accepted = listener.logs().decode().split()
    finally:
        listener.remove(force=True)
    assert ran.exit_code == 0, ran.output
    assert "usage: airflow scheduler" in ran.output.lower() and "s3cr3t" not in ran.output
    assert accepted == ["accepted"]  # the entrypoint's check, at the address from the secrets backend


@pytest.mark.parametrize(
    ("executor", "waits_for_the_broker"),
    [
        ("CeleryExecutor", True),
        ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", True),
        ("LocalExecutor,CeleryExecutor", True),
        ("LocalExecutor", False),
    ],
)
def test_scheduler_waits_for_the_celery_broker_only_with_a_celery_executor(
    run_in, small_image, executor, waits_for_the_broker
):
    ran = run_in(
        small_image,
        ["scheduler", "--help"],
        environment={
            **SQLITE,
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CELERY__BROKER_URL": "redis://:s3cr3t-pw@127.0.0.1:3/0",
            **FAST_FAIL,
        },
    )
    assert "s3cr3t" not in ran.output
    if waits_for_the_broker:
        assert ran.exit_code == 1, ran.output
        assert "waiting for the Celery broker at redis://127.0.0.1:3 (1/2)" in ran.output
        assert [line for line in ran.output.splitlines() if line.startswith("ERROR")] == [
            "ERROR: cannot reach the Celery broker at redis://127.0.0.1:3 after 2 attempts "
            "(CONNECTION_CHECK_MAX_COUNT=2, CONNECTION_CHECK_SLEEP_TIME=0.2)"
        ]
    else:
        assert ran.exit_code == 0, ran.output
        assert "Celery broker" not in ran.output and "usage: airflow scheduler" in ran.output.lower()


def test_wait_succeeds_once_the_services_come_up(client, run_in, small_image):
    # A neighbour container opens the ports a few seconds late; the checked container shares its network.
    listener = client.containers.run(
        small_image,
        [
            "python",
            "-c",
            (
                "import socket, time\n"
                "time.sleep(4)\n"
                "servers = [socket.create_server(('127.0.0.1', p)) for p in (5432, 6379)]\n"
                "time.sleep(120)\n"
            ),
        ],
        detach=True,
        network_mode="none",
    )
    try:
        ran = run_in(
            small_image,
            ["celery", "--help"],
            network_mode=f"container:{listener.id}",
            environment={
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://a:b@127.0.0.1:5432/db",
                "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
                "CONNECTION_CHECK_MAX_COUNT": "30",
                "CONNECTION_CHECK_SLEEP_TIME": "0.5",
            },
        )
    finally:
        listener.remove(force=True)
    assert ran.exit_code == 0, ran.output
    assert "waiting for the metadata database at postgresql://127.0.0.1:5432" in ran.output
    assert "usage: airflow celery" in ran.output.lower()


def test_wait_can_be_switched_off(run_in, small_image):
    ran = run_in(
        small_image,
        ["celery", "--help"],
        environment={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://a:b@127.0.0.1:1/db",
            "CONNECTION_CHECK_MAX_COUNT": "0",
        },
    )
    assert ran.exit_code == 0, ran.output


def test_migrate_and_create_user_with_the_simple_auth_manager(run_in, small_image):
    ran = run_in(
        small_image,
        ["bash", "-c", "cat $AIRFLOW_HOME/passwords.json; echo; ls /tmp"],
        environment={
            **SQLITE,
            "_AIRFLOW_DB_MIGRATE": "true",
            "_AIRFLOW_WWW_USER_CREATE": "true",
            "_AIRFLOW_WWW_USER_USERNAME": "admin",
            "_AIRFLOW_WWW_USER_PASSWORD": "admin-pw",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "/opt/airflow/passwords.json",
        },
    )
    assert ran.exit_code == 0, ran.output
    assert "airflow.db" in ran.output
    passwords = next(line for line in ran.output.splitlines() if line.startswith("{"))
    assert json.loads(passwords) == {"admin": "admin-pw"}


def test_user_create_without_password_is_one_clear_line(run_in, small_image):
    ran = run_in(small_image, ["version"], environment={**SQLITE, "_AIRFLOW_WWW_USER_CREATE": "true"})
    assert ran.exit_code == 1
    assert "ERROR: _AIRFLOW_WWW_USER_CREATE=true needs _AIRFLOW_WWW_USER_PASSWORD" in ran.output


def test_additional_requirements_install_with_a_loud_warning(run_in, small_image, tmp_path):
    wheel = make_wheel(tmp_path, "tiny-extra", "1.0")
    tmp_path.chmod(0o755)
    wheel.chmod(0o644)
    ran = run_in(
        small_image,
        ["python", "-c", "import tiny_extra; print('value', tiny_extra.VALUE)"],
        environment={"_PIP_ADDITIONAL_REQUIREMENTS": f"/wheels/{wheel.name}"},
        volumes={str(tmp_path): {"bind": "/wheels", "mode": "ro"}},
    )
    assert ran.exit_code == 0, ran.output
    assert "WARNING: _PIP_ADDITIONAL_REQUIREMENTS installs packages at every container start" in ran.output
    assert "value 42" in ran.output


def test_arbitrary_uid_can_write_what_it_must(run_in, small_image):
    ran = run_in(
        small_image,
        [
            "bash",
            "-c",
            (
                "set -e; getent passwd $(id -u); touch $HOME/h $AIRFLOW_HOME/logs/l $AIRFLOW_HOME/dags/d "
                "$AIRFLOW_HOME/plugins/p; id -g; echo ok"
            ),
        ],
        user="98765:0",
    )
    assert ran.exit_code == 0, ran.output
    assert ran.output.split()[-2:] == ["0", "ok"]
    assert "airflow-98765:x:98765:0:" in ran.output


def test_version_is_fast_enough_to_start_every_task(run_in, small_image):
    # not a benchmark: a guard that start-up did not regress by an order of magnitude
    started = time.monotonic()
    ran = run_in(small_image, ["version"])
    assert ran.exit_code == 0 and time.monotonic() - started < 30
