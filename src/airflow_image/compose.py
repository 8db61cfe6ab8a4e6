"""The docker-compose quick start, generated from the same settings and matrix as the images.

`compose_spec(options)` is pure: options → the compose data as a dict. `render_compose()` turns it
into the YAML text (first line: the command that generated it), and `generate_quick_start()` writes
the file plus, once, the `.env` with the secrets (compose_env.py).

Choices a newcomer would otherwise trip over:
- One `.env` holds AIRFLOW_UID and every shared secret; the containers get them by interpolation, so
  the JWT secret is the same in every container and nothing is regenerated per container or start.
- The simple auth manager (no extra needed) with its passwords file in the mounted config folder:
  `airflow-init` writes the admin password from `.env` there, so the login is known, not random.
- Ports are published on 127.0.0.1 only.
- Airflow containers run with a read-only root filesystem: nothing a task runs can change the
  installed code. They write only to the mounted folders and a tmpfs at /tmp; airflow.cfg lives in
  the mounted config folder (AIRFLOW_CONFIG), where `airflow-init` has Airflow write it once, so the
  healthchecks, which do not go through the image's entrypoint, read the same file.
- Quick recovery: the scheduler looks for orphaned tasks every 20 s (default 300 s) and fails a task
  whose heartbeat stopped after 45 s (default 300 s); with one default retry, a task killed along with
  a crashed scheduler (LocalExecutor runs tasks as the scheduler's children) reruns within about a
  minute instead of five.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from . import compose_env as env
from .compose_yaml import Anchored, Merged, dump_yaml
from .errors import InvalidComposeOption
from .matrix import VersionMatrix
from .settings import ProjectSettings

EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
DEFAULT_OUTPUT = Path("docs/quick-start/docker-compose.yaml")
AIRFLOW_HOME = "/opt/airflow"
API_CONTAINER_PORT = 8080
SCHEDULER_HEALTH_PORT = 8974
FLOWER_CONTAINER_PORT = 5555
DB_USER = DB_NAME = "airflow"
FOLDERS = ("dags", "logs", "config", "plugins")
PASSWORDS_FILE = f"{AIRFLOW_HOME}/config/simple_auth_manager_passwords.json"
CONFIG_FILE = f"{AIRFLOW_HOME}/config/airflow.cfg"
# Compose's own read-only root: writes go to the mounted folders and this tmpfs only.
READ_ONLY_ROOT = {"read_only": True, "tmpfs": ["/tmp"]}
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
_MISSING_ENV = "run `invoke compose` to create .env"
_IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")


@dataclass(frozen=True)
class ComposeOptions:
    """Everything the generated file depends on. Defaults are the committed example's."""

    image: str
    executor: str = "local"
    postgres_image: str = "postgres:16"
    redis_image: str = "redis:7"
    api_port: int = 8080
    flower_port: int = 5555
    orphaned_tasks_check_interval: int = 20
    task_instance_heartbeat_timeout: int = 45
    default_task_retries: int = 1
    default_task_retry_delay: int = 10

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise InvalidComposeOption(f"executor {self.executor!r} is not known (accepted: {', '.join(EXECUTORS)})")
        for name in ("image", "postgres_image", "redis_image"):
            ref = getattr(self, name)
            if not _IMAGE_REF.match(ref):
                label = name.replace("_", "-")
                raise InvalidComposeOption(f"{label} {ref!r} is not an image reference (e.g. postgres:16)")
        for name in ("api_port", "flower_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise InvalidComposeOption(f"{name.replace('_', '-')} {port} is not a TCP port (accepted: 1-65535)")

    @property
    def celery(self) -> bool:
        return self.executor == "celery"


def default_image(settings: ProjectSettings, matrix: VersionMatrix) -> str:
    """The image `nox -s build_prod-<default python>` builds for the newest stable Airflow."""
    return f"{settings.image_name}:{matrix.default_release().version}-python{settings.default_python}"


def generator_command(options: ComposeOptions, *, defaults: ComposeOptions) -> str:
    """The `invoke compose …` line that makes this file: only the options that differ from the defaults."""
    words = ["invoke", "compose"]
    for f in fields(ComposeOptions):
        value = getattr(options, f.name)
        if value != getattr(defaults, f.name):
            words += [f"--{f.name.replace('_', '-')}", str(value)]
    return shlex.join(words)


def _secret(key: str) -> str:
    return f"${{{key}:?{_MISSING_ENV}}}"


def _db_url(scheme: str) -> str:
    return f"{scheme}://{DB_USER}:{_secret(env.POSTGRES_PASSWORD_KEY)}@postgres/{DB_NAME}"


def airflow_environment(options: ComposeOptions) -> Anchored:
    """The configuration every Airflow container shares, written once in the file."""
    values = {
        "AIRFLOW_CONFIG": CONFIG_FILE,
        "AIRFLOW__CORE__EXECUTOR": EXECUTORS[options.executor],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _db_url("postgresql+psycopg2"),
        "AIRFLOW__CORE__FERNET_KEY": _secret(env.FERNET_KEY_KEY),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(env.JWT_SECRET_KEY),
        "AIRFLOW__API__SECRET_KEY": _secret(env.API_SECRET_KEY),
        # Task processes report to the API server by its service name, not localhost.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://airflow-apiserver:{API_CONTAINER_PORT}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"${{{env.ADMIN_USERNAME_KEY}:-{env.ADMIN_USERNAME}}}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": PASSWORDS_FILE,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": str(options.orphaned_tasks_check_interval),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(options.task_instance_heartbeat_timeout),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": str(options.default_task_retries),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": str(options.default_task_retry_delay),
    }
    if options.celery:
        values["AIRFLOW__CELERY__BROKER_URL"] = "redis://redis:6379/0"
        values["AIRFLOW__CELERY__RESULT_BACKEND"] = _db_url("db+postgresql")
    return Anchored("airflow-env", values)


# While a service starts it is probed every start_interval, so that `up --wait` returns soon after it is
# ready. A probe that is a command of Airflow's (or Celery's) starts a Python process that imports it:
# ~2 s of CPU. Every 2 s, three of them (DAG processor, triggerer, worker) asked for more than a 2-core
# host has, while the services they wait for were starting on the same cores.
PYTHON_PROBE_START_INTERVAL = "10s"


def _healthcheck(test: list[str], *, interval: str = "30s", start_interval: str = "2s") -> dict:
    return {
        "test": test,
        "interval": interval,
        "timeout": "10s",
        "retries": 5,
        "start_period": "60s",
        "start_interval": start_interval,
    }


def _jobs_check(job_type: str) -> list[str]:
    return ["CMD-SHELL", f'airflow jobs check --job-type {job_type} --hostname "$${{HOSTNAME}}"']


def _curl(url: str) -> list[str]:
    return ["CMD", "curl", "--fail", "--silent", "--max-time", "5", url]


INIT_SCRIPT = f"""\
set -euo pipefail
warn() {{ printf 'WARNING: %s\\n' "$$*" >&2; }}
# Too little memory, CPU or disk is the most common reason for containers stuck unhealthy.
mem_mb=$$(( $$(awk '/^MemTotal:/ {{print $$2}}' /proc/meminfo) / 1024 ))
cpus=$$(nproc)
disk_mb=$$(( $$(df -Pk {AIRFLOW_HOME} | awk 'NR == 2 {{print $$4}}') / 1024 ))
(( mem_mb >= 4096 )) || warn "$${{mem_mb}} MB of memory available to containers; Airflow needs at least 4096 MB"
(( cpus >= 2 )) || warn "$${{cpus}} CPU(s) available to containers; Airflow needs at least 2"
(( disk_mb >= 10240 )) || warn "$${{disk_mb}} MB of free disk; Airflow needs at least 10240 MB"
if [[ $${{AIRFLOW_UID}} == 0 ]]; then
  warn "AIRFLOW_UID is 0: Airflow will run as root; set it to your own uid in .env"
fi
mkdir -p {" ".join(f"{AIRFLOW_HOME}/{d}" for d in FOLDERS)}
# The image's entrypoint waits for the database, migrates it (_AIRFLOW_DB_MIGRATE) and writes
# the admin password into the simple auth manager's passwords file (_AIRFLOW_WWW_USER_CREATE).
/entrypoint airflow version
# Folders bind-mounted from the host belong to the user the Airflow containers run as.
chown -R "$${{AIRFLOW_UID}}:0" {" ".join(f"{AIRFLOW_HOME}/{d}" for d in FOLDERS)}
chmod 600 {PASSWORDS_FILE}
"""


def compose_spec(options: ComposeOptions) -> dict:
    """The compose file as data: the quick start's services, volumes and healthchecks."""
    common_env = airflow_environment(options)
    uid = f"${{{env.UID_KEY}:-{env.IMAGE_UID}}}"
    volumes = [f"./{d}:{AIRFLOW_HOME}/{d}" for d in FOLDERS]
    backing = {"postgres": {"condition": "service_healthy"}}
    if options.celery:
        backing["redis"] = {"condition": "service_healthy"}
    after_init = {**backing, "airflow-init": {"condition": "service_completed_successfully"}}

    def airflow_service(command: list[str], healthcheck: dict, **extra) -> dict:
        service = {
            "image": options.image,
            "user": f"{uid}:0",
            "command": command,
            "environment": extra.pop("environment", common_env),
            "volumes": volumes,
            **READ_ONLY_ROOT,
            "restart": "always",
            "depends_on": after_init,
        }
        service.update(extra)
        service["healthcheck"] = healthcheck
        return service

    services: dict[str, dict] = {
        "postgres": {
            "image": options.postgres_image,
            "environment": {
                "POSTGRES_USER": DB_USER,
                "POSTGRES_PASSWORD": _secret(env.POSTGRES_PASSWORD_KEY),
                "POSTGRES_DB": DB_NAME,
            },
            "volumes": ["postgres-db:/var/lib/postgresql/data"],
            "restart": "always",
            "healthcheck": _healthcheck(
                ["CMD", "pg_isready", "--username", DB_USER, "--dbname", DB_NAME], interval="10s", start_interval="1s"
            ),
        },
    }
    if options.celery:
        services["redis"] = {
            "image": options.redis_image,
            "restart": "always",
            "healthcheck": _healthcheck(["CMD", "redis-cli", "ping"], interval="10s", start_interval="1s"),
        }
    services["airflow-init"] = {
        "image": options.image,
        # root, to give the bind-mounted folders to AIRFLOW_UID; the one-shot ends before anything runs.
        "user": "0:0",
        "entrypoint": ["/bin/bash", "-c"],
        "command": [INIT_SCRIPT],
        "environment": Merged(
            common_env,
            {
                env.UID_KEY: uid,
                "_AIRFLOW_DB_MIGRATE": "true",
                "_AIRFLOW_WWW_USER_CREATE": "true",
                "_AIRFLOW_WWW_USER_USERNAME": f"${{{env.ADMIN_USERNAME_KEY}:-{env.ADMIN_USERNAME}}}",
                "_AIRFLOW_WWW_USER_PASSWORD": _secret(env.ADMIN_PASSWORD_KEY),
            },
        ),
        "volumes": volumes,
        **READ_ONLY_ROOT,
        "depends_on": backing,
    }
    services["airflow-apiserver"] = airflow_service(
        ["api-server"],
        _healthcheck(_curl(f"http://localhost:{API_CONTAINER_PORT}/api/v2/monitor/health")),
        ports=[f"127.0.0.1:{options.api_port}:{API_CONTAINER_PORT}"],
    )
    services["airflow-scheduler"] = airflow_service(
        ["scheduler"], _healthcheck(_curl(f"http://localhost:{SCHEDULER_HEALTH_PORT}/health"))
    )
    services["airflow-dag-processor"] = airflow_service(
        ["dag-processor"], _healthcheck(_jobs_check("DagProcessorJob"), start_interval=PYTHON_PROBE_START_INTERVAL)
    )
    services["airflow-triggerer"] = airflow_service(
        ["triggerer"], _healthcheck(_jobs_check("TriggererJob"), start_interval=PYTHON_PROBE_START_INTERVAL)
    )
    if options.celery:
        services["airflow-worker"] = airflow_service(
            ["celery", "worker"],
            _healthcheck(
                ["CMD-SHELL", f'celery --app {CELERY_APP} inspect ping -d "celery@$${{HOSTNAME}}"'],
                start_interval=PYTHON_PROBE_START_INTERVAL,
            ),
            # The worker's main process alone gets SIGTERM, so Celery finishes running tasks (warm shutdown).
            environment=Merged(common_env, {"DUMB_INIT_SETSID": "0"}),
        )
        services["flower"] = airflow_service(
            ["celery", "flower"],
            _healthcheck(_curl(f"http://localhost:{FLOWER_CONTAINER_PORT}/")),
            ports=[f"127.0.0.1:{options.flower_port}:{FLOWER_CONTAINER_PORT}"],
            profiles=["flower"],
        )
    services["airflow-cli"] = {
        "image": options.image,
        "user": f"{uid}:0",
        "profiles": ["airflow-cli"],
        # `docker compose run --rm airflow-cli dags list` runs `airflow dags list`.
        "command": ["version"],
        # A one-off command should fail at once, not wait, when the database is down.
        "environment": Merged(common_env, {"CONNECTION_CHECK_MAX_COUNT": "0"}),
        "volumes": volumes,
        **READ_ONLY_ROOT,
        "depends_on": backing,
    }
    return {
        "x-airflow-env": common_env,
        "services": services,
        "volumes": {"postgres-db": {}},
    }


def render_compose(options: ComposeOptions, *, defaults: ComposeOptions) -> str:
    command = generator_command(options, defaults=defaults)
    header = (
        f"generated by `{command}`; do not edit",
        f"Apache Airflow quick start ({options.executor} executor) for {options.image}.",
        "Start: `docker compose up -d --wait`, then open "
        f"http://127.0.0.1:{options.api_port} (user and password: .env).",
        "Shared settings are written once (&airflow-env) and merged into each Airflow service.",
    )
    return dump_yaml(compose_spec(options), header=header)


@dataclass(frozen=True)
class QuickStart:
    compose_file: Path
    env: env.EnvFile
    options: ComposeOptions


def generate_quick_start(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    *,
    host_uid: int,
    output: Path | None = None,
    executor: str = "local",
    image: str | None = None,
    postgres_image: str | None = None,
    redis_image: str | None = None,
    api_port: int | None = None,
) -> QuickStart:
    """Writes the compose file (default: the committed example) and, if missing, the `.env` beside it."""
    defaults = ComposeOptions(image=default_image(settings, matrix))
    options = ComposeOptions(
        image=image or defaults.image,
        executor=executor,
        postgres_image=postgres_image or defaults.postgres_image,
        redis_image=redis_image or defaults.redis_image,
        api_port=defaults.api_port if api_port is None else api_port,
    )
    path = output if output is not None else settings.root / DEFAULT_OUTPUT
    if path.is_dir():
        raise InvalidComposeOption(f"output {str(path)!r} is a directory (accepted: a file path, e.g. compose.yaml)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_compose(options, defaults=defaults))
    env_file = env.ensure_env_file(path.parent / ".env", airflow_uid=env.airflow_uid_for(host_uid))
    return QuickStart(compose_file=path, env=env_file, options=options)
