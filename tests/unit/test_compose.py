"""The compose quick start generator: the committed example, the services per executor, the secrets."""

from __future__ import annotations

import itertools
import re

import pytest
import yaml

from airflow_image import compose_env as env
from airflow_image.compose import (
    DEFAULT_OUTPUT,
    ComposeOptions,
    compose_spec,
    default_image,
    generate_quick_start,
    generator_command,
    render_compose,
)
from airflow_image.errors import InvalidComposeOption

LONG_RUNNING_AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


@pytest.fixture(scope="module")
def defaults(settings, matrix) -> ComposeOptions:
    return ComposeOptions(image=default_image(settings, matrix))


def _options(defaults: ComposeOptions, **changes) -> ComposeOptions:
    return ComposeOptions(**{**defaults.__dict__, **changes})


def test_committed_example_is_up_to_date(root, defaults):
    committed = (root / DEFAULT_OUTPUT).read_text()
    assert committed == render_compose(defaults, defaults=defaults), (
        f"{DEFAULT_OUTPUT} is out of date: run `invoke compose` and commit the result"
    )


def test_default_image_is_the_default_flavour_of_the_newest_release(settings, matrix, defaults):
    release = matrix.default_release()
    assert defaults.image == f"{settings.image_name}:{release.version}-python{settings.default_python}"
    assert settings.default_python in release.pythons


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_yaml_reads_back_as_the_spec(defaults, executor):
    options = _options(defaults, executor=executor)
    text = render_compose(options, defaults=defaults)
    assert yaml.safe_load(text) == compose_spec(options)


@pytest.mark.parametrize(
    ("executor", "always", "with_profile"),
    [
        ("local", {"postgres", "airflow-init", *LONG_RUNNING_AIRFLOW}, {"airflow-cli": "airflow-cli"}),
        (
            "celery",
            {"postgres", "redis", "airflow-init", "airflow-worker", *LONG_RUNNING_AIRFLOW},
            {"airflow-cli": "airflow-cli", "flower": "flower"},
        ),
    ],
)
def test_services_per_executor(defaults, executor, always, with_profile):
    services = compose_spec(_options(defaults, executor=executor))["services"]
    profiles = {name: s["profiles"] for name, s in services.items() if "profiles" in s}
    assert set(services) - set(profiles) == always
    assert profiles == {name: [profile] for name, profile in with_profile.items()}


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("airflow-apiserver", "http://localhost:8080/api/v2/monitor/health"),
        ("airflow-scheduler", "http://localhost:8974/health"),
        ("airflow-dag-processor", "airflow jobs check --job-type DagProcessorJob"),
        ("airflow-triggerer", "airflow jobs check --job-type TriggererJob"),
        ("airflow-worker", "inspect ping"),
        ("flower", "http://localhost:5555/"),
        ("postgres", "pg_isready"),
        ("redis", "redis-cli"),
    ],
)
def test_every_long_running_service_has_its_healthcheck(defaults, service, probe):
    spec = compose_spec(_options(defaults, executor="celery"))["services"][service]
    assert probe in " ".join(spec["healthcheck"]["test"])
    assert spec["restart"] == "always"


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_start_order_waits_for_health_and_for_the_init_job(defaults, executor):
    services = compose_spec(_options(defaults, executor=executor))["services"]
    backing = {"postgres"} | ({"redis"} if executor == "celery" else set())
    for name in LONG_RUNNING_AIRFLOW | ({"airflow-worker"} if executor == "celery" else set()):
        depends = services[name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}
        assert {k for k, v in depends.items() if v == {"condition": "service_healthy"}} == backing
    assert set(services["airflow-init"]["depends_on"]) == backing


def test_ports_are_published_on_loopback_only(defaults):
    services = compose_spec(_options(defaults, executor="celery", api_port=18080, flower_port=15555))["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {"airflow-apiserver": ["127.0.0.1:18080:8080"], "flower": ["127.0.0.1:15555:5555"]}


def test_airflow_containers_share_one_configuration(defaults):
    services = compose_spec(_options(defaults, executor="celery"))["services"]
    shared = compose_spec(_options(defaults, executor="celery"))["x-airflow-env"]
    for name, service in services.items():
        if service["image"] == defaults.image:
            assert shared.items() <= service["environment"].items(), name
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_airflow_containers_have_a_read_only_root_and_write_only_to_mounts(defaults, executor):
    spec = compose_spec(_options(defaults, executor=executor))
    shared = spec["x-airflow-env"]
    airflow_services = {name: s for name, s in spec["services"].items() if s["image"] == defaults.image}
    assert airflow_services.keys() >= LONG_RUNNING_AIRFLOW | {"airflow-init", "airflow-cli"}
    for name, service in airflow_services.items():
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        writable = [volume.split(":")[1] for volume in service["volumes"]] + service["tmpfs"]
        # Files Airflow writes at start-up when they are missing: in a mounted folder, and the same
        # file for the healthchecks (`airflow jobs check` does not go through the entrypoint).
        for key in ("AIRFLOW_CONFIG", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
            path = service["environment"][key]
            assert path == shared[key] and any(path.startswith(f"{folder}/") for folder in writable), (name, key)
    assert shared["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg"


def test_quick_recovery_settings_are_in_the_configuration(defaults):
    shared = compose_spec(_options(defaults, orphaned_tasks_check_interval=7))["x-airflow-env"]
    assert shared["AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"] == "7"
    assert shared["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "45"
    assert shared["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"] == "1"


def test_secrets_come_from_env_by_interpolation_only(defaults):
    text = render_compose(_options(defaults, executor="celery"), defaults=defaults)
    for key in env.SECRET_KEYS:
        assert f"${{{key}:?" in text, key
    # Nothing else that looks like a secret value is written literally.
    assert not re.search(r"(PASSWORD|SECRET|FERNET_KEY)[A-Z_]*(?<!_FILE): (?![\"']?\$\{)", text)


@pytest.mark.parametrize(
    ("changes", "command"),
    [
        ({}, "invoke compose"),
        ({"executor": "celery"}, "invoke compose --executor celery"),
        ({"api_port": 18080, "image": "my/airflow:1"}, "invoke compose --image my/airflow:1 --api-port 18080"),
    ],
)
def test_header_names_the_generating_command(defaults, changes, command):
    options = _options(defaults, **changes)
    assert generator_command(options, defaults=defaults) == command
    first = render_compose(options, defaults=defaults).splitlines()[0]
    assert first == f"# generated by `{command}`; do not edit"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"executor": "kubernetes"}, "executor 'kubernetes' is not known (accepted: local, celery)"),
        ({"api_port": 0}, "api-port 0 is not a TCP port (accepted: 1-65535)"),
        ({"flower_port": 70000}, "flower-port 70000 is not a TCP port (accepted: 1-65535)"),
        ({"postgres_image": "Postgres 16"}, "postgres-image 'Postgres 16' is not an image reference"),
    ],
)
def test_bad_options_are_one_line_errors(defaults, changes, message):
    with pytest.raises(InvalidComposeOption) as err:
        _options(defaults, **changes)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def _counter_bytes():
    counter = itertools.count(1)
    return lambda n: bytes([next(counter) % 256]) * n


@pytest.mark.parametrize(("host_uid", "airflow_uid"), [(0, 50000), (1000, 1000), (50000, 50000)])
def test_airflow_uid_is_the_host_users_unless_root(host_uid, airflow_uid):
    assert env.airflow_uid_for(host_uid) == airflow_uid


def test_env_file_is_written_once_and_never_regenerated(tmp_path):
    path = tmp_path / ".env"
    first = env.ensure_env_file(path, airflow_uid=1000, token_bytes=_counter_bytes())
    assert first.created and path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    again = env.ensure_env_file(path, airflow_uid=2000)
    assert (again.created, again.added, path.read_text()) == (False, (), text)
    assert again.values == first.values == env.parse_env(text)
    assert first.values[env.UID_KEY] == "1000"
    assert len(set(first.values[k] for k in env.SECRET_KEYS)) == len(env.SECRET_KEYS)


def test_env_file_gets_missing_keys_appended_and_keeps_the_rest(tmp_path):
    path = tmp_path / ".env"
    path.write_text("AIRFLOW_UID=1234\nAIRFLOW_FERNET_KEY=keep-me")
    result = env.ensure_env_file(path, airflow_uid=1000)
    values = env.parse_env(path.read_text())
    assert (values[env.UID_KEY], values[env.FERNET_KEY_KEY]) == ("1234", "keep-me")
    assert set(result.added) == set(env.fresh_values(airflow_uid=1)) - {env.UID_KEY, env.FERNET_KEY_KEY}
    assert values == dict(result.values)


def test_fernet_key_has_fernets_format():
    key = env.fresh_values(airflow_uid=1)[env.FERNET_KEY_KEY]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", key)


def test_generate_quick_start_writes_both_files_and_keeps_the_secrets(tmp_path, settings, matrix):
    output = tmp_path / "qs" / "compose.yaml"
    first = generate_quick_start(settings, matrix, host_uid=1000, output=output, executor="celery")
    second = generate_quick_start(settings, matrix, host_uid=1000, output=output, executor="celery", api_port=9090)
    assert first.env.created and not second.env.created
    assert second.env.values == first.env.values
    assert "127.0.0.1:9090:8080" in output.read_text()
    assert output.read_text().startswith("# generated by `invoke compose --executor celery --api-port 9090`")
    with pytest.raises(InvalidComposeOption, match="is a directory"):
        generate_quick_start(settings, matrix, host_uid=1000, output=tmp_path)
