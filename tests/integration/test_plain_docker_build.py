"""`docker build` of the root Dockerfile with nothing but a base image, and its early failures.

Only what this host's network needs is added (host networking and the proxy CA as a secret);
no other build argument is passed.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from .conftest import ROOT, SMALL_PYTHON

pytestmark = pytest.mark.throwaway_images("airflow-plain")


@pytest.fixture(scope="module")
def local_base(settings, runner):
    from airflow_image.build import choose_base_image
    from airflow_image.engine import inspect_image

    ref, found = choose_base_image(settings, SMALL_PYTHON, explicit=None, lookup=lambda r: inspect_image(runner, r))
    assert found is not None, f"no base image for Python {SMALL_PYTHON}; run dev/setup-host.sh"
    return ref


def docker_build(ca_bundle, *build_args: str, tag: str | None = None) -> subprocess.CompletedProcess:
    argv = ["docker", "buildx", "build", "--progress=plain", "--network", "host"]
    if ca_bundle is not None:
        argv += ["--secret", f"id=cacert,src={ca_bundle}"]
    for arg in build_args:
        argv += ["--build-arg", arg]
    argv += ["--load", "--tag", tag] if tag else []
    return subprocess.run([*argv, str(ROOT)], capture_output=True, text=True, timeout=1800)


def test_docker_build_with_only_a_base_image_gives_a_working_image(local_base, ca_bundle, matrix):
    tag = "airflow-plain:it"
    result = docker_build(ca_bundle, f"PYTHON_BASE_IMAGE={local_base}", tag=tag)
    assert result.returncode == 0, result.stderr[-3000:]
    run = subprocess.run(["docker", "run", "--rm", tag, "airflow", "version"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == matrix.default_release().version
    labels = subprocess.run(
        ["docker", "image", "inspect", tag, "--format", '{{index .Config.Labels "org.apache.airflow.python.version"}}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert labels == SMALL_PYTHON  # derived from the base image's tag, checked against its python


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("AIRFLOW_PYTHON_VERSION=3.12",), "runs Python 3.11 but AIRFLOW_PYTHON_VERSION is '3.12'"),
        (("AIRFLOW_EXTRAS=postgres,no-such-extra",), "has no extra 'no-such-extra'"),
        (("ADDITIONAL_DEV_APT_DEPS=no-such-package-xyz",), "apt package 'no-such-package-xyz' does not exist"),
        (
            ("ADDITIONAL_RUNTIME_APT_DEPS=no-such-package-xyz", "AIRFLOW_EXTRAS=postgres"),
            "apt package 'no-such-package-xyz' does not exist",
        ),
        (("AIRFLOW_CONSTRAINTS=missing-file.txt",), "AIRFLOW_CONSTRAINTS='missing-file.txt' is neither"),
        (("AIRFLOW_VERSION=2.10.5",), "no committed lock for apache-airflow 2.10.5 on Python 3.11"),
        (("INSTALL_MSODBCSQL=true",), "INSTALL_MSODBCSQL=true but no apt source offers msodbcsql18"),
        (("UV_VERSION=99.0.0",), "cannot install uv==99.0.0"),
        # checked by the `inputs` stage, alongside the build stage (see the test below)
        (
            ("ADDITIONAL_PYTHON_DEPS=requests foo=1.0",),
            "ADDITIONAL_PYTHON_DEPS entry 'foo=1.0' is not a valid requirement (",
        ),
        (("AIRFLOW_BYTECODE=some",), "AIRFLOW_BYTECODE='some' is not one of: startup, all, none"),
    ],
)
def test_bad_build_input_fails_with_a_line_naming_it(local_base, ca_bundle, args, message):
    result = docker_build(ca_bundle, f"PYTHON_BASE_IMAGE={local_base}", *args)
    assert result.returncode != 0
    assert "ERROR: " in result.stderr and message in result.stderr, result.stderr[-3000:]


# BuildKit's plain progress names each step "[stage n/m] INSTRUCTION" when it starts.
STEP = re.compile(r"^#\d+ \[(?P<stage>[\w-]+) \d+/\d+\] (?P<instruction>\S+)", re.MULTILINE)


def test_malformed_requirement_stops_the_build_before_the_long_install(local_base, ca_bundle):
    # A requirement that has never been built: nothing downstream of the check can come from the cache.
    marker = f"never-built-{time.time_ns()}"
    started = time.monotonic()
    result = docker_build(
        ca_bundle, f"PYTHON_BASE_IMAGE={local_base}", f"ADDITIONAL_PYTHON_DEPS={marker}==1 {marker}-b=1.0"
    )
    seconds = time.monotonic() - started
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "ERROR: ADDITIONAL_PYTHON_DEPS" in line]
    assert errors and all(f"entry '{marker}-b=1.0' is not a valid requirement (" in line for line in errors), (
        result.stderr[-3000:]
    )
    steps = [(m["stage"], m["instruction"]) for m in STEP.finditer(result.stderr)]
    assert ("inputs", "RUN") in steps, result.stderr[-3000:]
    # the stage that installs ADDITIONAL_PYTHON_DEPS never started; the build stops in seconds, not
    # after the install of Airflow (minutes, or, cached, still the `additional` stage's own install)
    assert not any(stage == "additional" for stage, _ in steps), steps
    assert seconds < 90, f"a malformed requirement took {seconds:.0f} s to stop the build"
