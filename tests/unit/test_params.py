from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from airflow_image.errors import InvalidBuildOption
from airflow_image.params import BuildRequest, build_args, buildx_command, inputs_hash

BASE = dict(
    airflow_version="3.3.2",
    python="3.12",
    base_image="python:3.12-slim-bookworm",
    tags=("airflow:3.3.2-python3.12",),
    extras=("postgres", "celery"),
)


def req(**overrides) -> BuildRequest:
    return BuildRequest(**{**BASE, **overrides})


ALWAYS = [
    ("PYTHON_BASE_IMAGE", "python:3.12-slim-bookworm"),
    ("AIRFLOW_PYTHON_VERSION", "3.12"),
    ("AIRFLOW_VERSION", "3.3.2"),
    ("AIRFLOW_EXTRAS", "postgres,celery"),
    ("AIRFLOW_VARIANT", "regular"),
    ("AIRFLOW_CONSTRAINTS", "lock"),
]


@pytest.mark.parametrize(
    ("overrides", "extra_args"),
    [
        ({}, []),
        (
            {"additional_extras": ("microsoft-mssql", "sentry")},
            [("ADDITIONAL_AIRFLOW_EXTRAS", "microsoft-mssql,sentry")],
        ),
        (
            {"additional_python_deps": ("requests>=2.32", "black==24.1.0")},
            [("ADDITIONAL_PYTHON_DEPS", "requests>=2.32 black==24.1.0")],
        ),
        ({"additional_dev_apt_deps": ("libkrb5-dev",)}, [("ADDITIONAL_DEV_APT_DEPS", "libkrb5-dev")]),
        (
            {"additional_runtime_apt_deps": ("krb5-user", "vim-tiny")},
            [("ADDITIONAL_RUNTIME_APT_DEPS", "krb5-user vim-tiny")],
        ),
        ({"airflow_uid": 1001}, [("AIRFLOW_UID", "1001")]),
        ({"airflow_home": "/srv/airflow"}, [("AIRFLOW_HOME", "/srv/airflow")]),
        ({"base_image_digest": "sha256:" + "a" * 64}, [("BASE_IMAGE_DIGEST", "sha256:" + "a" * 64)]),
        (
            {"build_date": "2026-11-25T00:00:00+00:00", "vcs_ref": "f" * 40},
            [("BUILD_DATE", "2026-11-25T00:00:00+00:00"), ("VCS_REF", "f" * 40)],
        ),
        ({"source_url": "https://example.org/x"}, [("SOURCE_URL", "https://example.org/x")]),
        ({"inputs_hash": "sha256:00"}, [("BUILD_INPUTS_HASH", "sha256:00")]),
        ({"offline": True}, [("INSTALL_FROM_CONTEXT_FILES", "true")]),
        (
            {"db_clients": ("mssql",)},
            [
                ("INSTALL_POSTGRES_CLIENT", "false"),
                ("INSTALL_MYSQL_CLIENT", "false"),
                ("INSTALL_MSSQL_CLIENT", "true"),
                ("INSTALL_MSODBCSQL", "false"),
            ],
        ),
        (
            {"db_clients": ("postgres", "msodbcsql")},
            [
                ("INSTALL_POSTGRES_CLIENT", "true"),
                ("INSTALL_MYSQL_CLIENT", "false"),
                ("INSTALL_MSSQL_CLIENT", "false"),
                ("INSTALL_MSODBCSQL", "true"),
            ],
        ),
        (
            {"db_clients": ()},
            [
                ("INSTALL_POSTGRES_CLIENT", "false"),
                ("INSTALL_MYSQL_CLIENT", "false"),
                ("INSTALL_MSSQL_CLIENT", "false"),
                ("INSTALL_MSODBCSQL", "false"),
            ],
        ),
    ],
)
def test_build_args(overrides, extra_args):
    assert build_args(req(**overrides)) == ALWAYS + extra_args


@pytest.mark.parametrize(
    ("overrides", "changed"),
    [
        ({"variant": "slim", "extras": ()}, {"AIRFLOW_VARIANT": "slim", "AIRFLOW_EXTRAS": ""}),
        ({"constraints": "none"}, {"AIRFLOW_CONSTRAINTS": "none"}),
        ({"constraints": "https://example.org/c.txt"}, {"AIRFLOW_CONSTRAINTS": "https://example.org/c.txt"}),
        ({"constraints": "my-constraints.txt"}, {"AIRFLOW_CONSTRAINTS": "my-constraints.txt"}),
        (
            {"python": "3.11", "base_image": "localhost/standin/python:3.11-slim-bookworm"},
            {"AIRFLOW_PYTHON_VERSION": "3.11", "PYTHON_BASE_IMAGE": "localhost/standin/python:3.11-slim-bookworm"},
        ),
    ],
)
def test_build_args_that_replace_defaults(overrides, changed):
    assert dict(build_args(req(**overrides))) == {**dict(ALWAYS), **changed}


def test_buildx_command_full():
    request = req(
        network="host",
        platforms=("linux/amd64", "linux/arm64"),
        ca_bundle=Path("/certs/ca.pem"),
        secret_files=(("uv.toml", Path("/home/u/uv.toml")),),
        no_cache=True,
        output="push",
        tags=("r/airflow:a", "r/airflow:b"),
    )
    argv = buildx_command(request, context=Path("/src"), dockerfile=Path("/src/Dockerfile"))
    assert argv[:4] == ["docker", "buildx", "build", "--progress=plain"]
    assert argv[-1] == "/src"
    pairs = list(itertools.pairwise(argv))
    assert ("--file", "/src/Dockerfile") in pairs
    assert ("--network", "host") in pairs
    assert ("--platform", "linux/amd64,linux/arm64") in pairs
    assert ("--secret", "id=cacert,src=/certs/ca.pem") in pairs
    assert ("--secret", "id=uv.toml,src=/home/u/uv.toml") in pairs
    assert ("--tag", "r/airflow:a") in pairs and ("--tag", "r/airflow:b") in pairs
    assert "--no-cache" in argv and "type=image,push=true,compression=gzip,compression-level=1" in argv
    # the CA bundle is never a build argument (build args land in the image history)
    assert not any("ca.pem" in a for a in argv if a.startswith(("PYTHON", "AIRFLOW", "BUILD")))


def test_buildx_command_local_output_of_a_target():
    request = req(target="docker-context-files", output="local", output_dir=Path("/out"), tags=())
    argv = buildx_command(request, context=Path("."))
    assert ("--target", "docker-context-files") in list(itertools.pairwise(argv))
    assert ("--output", "type=local,dest=/out") in list(itertools.pairwise(argv))
    assert not any(a.startswith("type=image") for a in argv) and "--tag" not in argv


def test_buildx_command_minimal_loads():
    argv = buildx_command(req(), context=Path("."))
    assert argv[argv.index("--output") + 1] == "type=image,compression=gzip,compression-level=1"
    assert "--network" not in argv and "--secret" not in argv


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"variant": "tiny"}, "variant 'tiny' is not one of: regular, slim"),
        ({"extras": ("Postgres!",)}, "extra 'Postgres!' is not a valid extra name"),
        ({"additional_extras": ("a b",)}, "extra 'a b' is not a valid extra name"),
        ({"platforms": ("linux/s390x",)}, "platform 'linux/s390x' is not one of: linux/amd64, linux/arm64"),
        ({"output": "tar"}, "output 'tar' is not one of"),
        ({"tags": ()}, "needs at least one tag"),
        ({"airflow_uid": 0}, "AIRFLOW_UID 0 is not a uid"),
        ({"db_clients": ("oracle",)}, "database client 'oracle' is not one of: postgres, mysql, mssql, msodbcsql"),
        ({"secret_files": (("pipconf", Path("/x")),)}, "secret id 'pipconf' is not one the Dockerfile reads"),
        ({"output": "local"}, "a local output needs an output directory"),
    ],
)
def test_bad_requests_are_refused_with_one_line(overrides, message):
    with pytest.raises(InvalidBuildOption, match=message):
        req(**overrides)


def test_inputs_hash_ignores_volatile_args_but_not_content():
    args = build_args(req(build_date="2026-01-01", vcs_ref="a" * 40))
    files = [("Dockerfile", b"FROM x\n"), ("constraints/3.3.2/constraints-3.12.txt", b"a==1\n")]
    base = inputs_hash(build_arg_pairs=args, files=files)
    later = build_args(req(build_date="2027-01-01", vcs_ref="b" * 40))
    assert inputs_hash(build_arg_pairs=later, files=files) == base
    assert inputs_hash(build_arg_pairs=build_args(req(extras=("postgres",))), files=files) != base
    assert inputs_hash(build_arg_pairs=args, files=[files[0], (files[1][0], b"a==2\n")]) != base
    assert inputs_hash(build_arg_pairs=build_args(req(base_image_digest="sha256:1")), files=files) != base
