from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest

from airflow_image.errors import InvalidBuildOption
from airflow_image.params import BuildRequest, build_args, buildx_command, check_requirements, inputs_hash

ROOT = Path(__file__).resolve().parents[2]

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
        ({"uv_version": "0.9.5"}, [("UV_VERSION", "0.9.5")]),
        ({"airflow_venv": "/opt/custom-venv"}, [("AIRFLOW_VENV", "/opt/custom-venv")]),
        ({"airflow_bytecode": "none"}, [("AIRFLOW_BYTECODE", "none")]),
        ({"airflow_bytecode": "all"}, [("AIRFLOW_BYTECODE", "all")]),
        ({"airflow_user_home_dir": "/home/custom"}, [("AIRFLOW_USER_HOME_DIR", "/home/custom")]),
        (
            {"dev_apt_deps": ("gcc", "libc6-dev", "libyaml-dev")},
            [("DEV_APT_DEPS", "gcc libc6-dev libyaml-dev")],
        ),
        ({"dev_apt_deps": ()}, [("DEV_APT_DEPS", "")]),  # a build that compiles nothing: passed, not dropped
        (
            {"runtime_apt_deps": ("dumb-init", "ca-certificates", "curl")},
            [("RUNTIME_APT_DEPS", "dumb-init ca-certificates curl")],
        ),
        (
            {"additional_python_deps": ("x[a,b]>=1,<2", "y@https://example.org/y.whl", "z;python_version>'3'")},
            [("ADDITIONAL_PYTHON_DEPS", "x[a,b]>=1,<2 y@https://example.org/y.whl z;python_version>'3'")],
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
        ({"uv_version": "latest"}, "UV_VERSION 'latest' is not a version"),
        ({"airflow_bytecode": "some"}, "AIRFLOW_BYTECODE='some' is not one of: startup, all, none"),
        ({"airflow_venv": "venv"}, "AIRFLOW_VENV 'venv' is not an absolute path"),
        ({"airflow_venv": "/"}, "AIRFLOW_VENV '/' is not an absolute path"),
        ({"airflow_home": "/srv/my airflow"}, "AIRFLOW_HOME '/srv/my airflow' is not an absolute path"),
        ({"airflow_user_home_dir": "~airflow"}, "AIRFLOW_USER_HOME_DIR '~airflow' is not an absolute path"),
        (
            {"runtime_apt_deps": ("ca-certificates", "curl")},
            "RUNTIME_APT_DEPS 'ca-certificates curl' lacks dumb-init, the image's init",
        ),
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


# One table for both places that refuse a malformed ADDITIONAL_PYTHON_DEPS entry: the tooling
# (BuildRequest, through packaging) and a plain `docker build` (image/check_inputs.py in the Dockerfile's
# `inputs` stage, with the base's pip-vendored packaging, or its own pattern where the base has no pip).
GOOD_REQUIREMENTS = [
    "requests",
    "requests==2.32.3",
    "Foo_Bar.baz~=1.2",
    "black>=24,<25",
    "apache-airflow-providers-github[common.sql]>=2.8",
    "house-helpers==2.0",
    "pkg@https://example.org/pkg-1.0-py3-none-any.whl",
    "tomli;python_version<'3.11'",
    "x===1.0",
]
BAD_REQUIREMENTS = [
    "foo=1.0",  # a single '='
    "requests>>=2",
    "a,b",  # comma-separated instead of space-separated
    "foo[bar",
    "--pre",  # an installer option, not a requirement
    "./x.whl",  # a path
    "foo==1.0;",
    "-e",
    "=1",
]


def _check_inputs():
    spec = importlib.util.spec_from_file_location("check_inputs", ROOT / "image" / "check_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("value", GOOD_REQUIREMENTS)
def test_valid_requirements_are_accepted_everywhere(value):
    assert req(additional_python_deps=(value,)).additional_python_deps == (value,)
    assert check_requirements([value]) == (value,)
    script = _check_inputs()
    assert script.packaging_requirements() is not None  # so the first check below is packaging's
    assert script.requirement_error(value) is None
    assert script.requirement_error(value, use_packaging=False) is None


@pytest.mark.parametrize("value", BAD_REQUIREMENTS)
def test_malformed_requirement_is_refused_with_one_line_naming_it(value):
    prefix = f"ADDITIONAL_PYTHON_DEPS entry {value!r} is not a valid requirement ("
    with pytest.raises(InvalidBuildOption) as caught:
        req(additional_python_deps=("requests", value))
    message = str(caught.value)
    assert message.startswith(prefix) and "\n" not in message
    assert message.endswith("expected PEP 508 requirements separated by spaces, e.g. name, name==1.2, "
                            "name[extra]>=1,<2, name@URL")  # fmt: skip
    script = _check_inputs()
    for use_packaging in (True, False):  # the image's check says the same, with or without pip in the base
        error = script.requirement_error(value, use_packaging=use_packaging)
        assert error is not None and error.startswith(prefix) and "\n" not in error
        assert error.endswith(message.rpartition(";")[2])


def test_a_requirement_with_whitespace_is_refused():
    with pytest.raises(InvalidBuildOption, match="it contains whitespace"):
        req(additional_python_deps=("foo ; python_version>'3'",))


def test_check_inputs_writes_the_checked_requirements_or_fails_naming_each_bad_value(tmp_path, capsys):
    script = _check_inputs()
    environ = {"ADDITIONAL_PYTHON_DEPS": "  requests==2.32.3 \n house-helpers==2.0 ", "AIRFLOW_BYTECODE": "none"}
    assert script.main(str(tmp_path / "ok"), environ) == 0
    assert (tmp_path / "ok" / "requirements.txt").read_text() == "requests==2.32.3\nhouse-helpers==2.0\n"
    assert script.main(str(tmp_path / "empty"), {}) == 0
    assert (tmp_path / "empty" / "requirements.txt").read_text() == ""
    capsys.readouterr()
    bad = {"ADDITIONAL_PYTHON_DEPS": "ok==1 foo=1.0", "AIRFLOW_BYTECODE": "some"}
    assert script.main(str(tmp_path / "bad"), bad) == 1
    errors = capsys.readouterr().err.splitlines()
    assert [e.split(" (")[0] for e in errors] == [
        "ERROR: ADDITIONAL_PYTHON_DEPS entry 'foo=1.0' is not a valid requirement",
        "ERROR: AIRFLOW_BYTECODE='some' is not one of: startup, all, none",
    ]
    assert not (tmp_path / "bad").exists()
