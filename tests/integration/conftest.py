"""Shared fixtures for tests that drive the real engine, registry and compose.

`small_image` builds (or finds, through BuildKit's cache) a real image with a small extras set
through the same code path as `nox -s build_prod-X.Y`, so integration tests never need a
separately prepared image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, build_image
from airflow_image.cli_options import ca_bundle_from
from airflow_image.runner import SubprocessRunner

ROOT = Path(__file__).resolve().parents[2]
# A flavour Debian ships, so a bare CI host has its base image (dev/setup-host.sh).
SMALL_PYTHON = "3.11"
SMALL_EXTRAS = ("postgres", "celery")
# settings and matrix come from tests/conftest.py


# Run first: `docker build .` of the production image. In CI `nox -s ci_images` has just built the
# same image, and its layers are still in the build cache (the module ends below prune it only when
# the disk runs short). A cold build of it is ~3 min on a 2-core host, a cached one seconds. A stable
# sort: the other modules keep their order.
FIRST_MODULES = ("test_plain_docker_build.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in FIRST_MODULES)


@pytest.fixture(scope="session")
def runner():
    return SubprocessRunner()


@pytest.fixture(scope="session")
def ca_bundle():
    return ca_bundle_from(None, os.environ)


@pytest.fixture(scope="session")
def small_image(settings, matrix, runner, ca_bundle) -> str:
    ref = f"{settings.image_name}-it:{matrix.default_release().version}-python{SMALL_PYTHON}-small"
    options = BuildOptions(python=SMALL_PYTHON, extras=SMALL_EXTRAS, tags=(ref,), ca_bundle=ca_bundle)
    build_image(settings, matrix, options, runner)
    return ref


# BuildKit's cache grows with every module (~12 GB over a warm run, ~25 GB over a cold one), and
# under the containerd image store only its private records can be pruned to a bound; the shared ones
# (most of the layers) go only all at once (see dev/setup-host.sh). Bounding them after every module
# cost more than it saved: the prune dropped the layers the module had just built, and the modules that
# reuse them built them again (the multi-platform rebuild test rebuilt the release test's arm64 image
# under emulation: 304 s, against 164 s without the prunes). So the cache is left alone while the disk
# has room; below LOW_FREE_BYTES the private records are bounded, and below MIN_FREE_BYTES the whole
# cache goes: the modules after it build cold, which is slower, where a full disk would fail them.
BUILD_CACHE_BOUND = "8GB"
LOW_FREE_BYTES = 16 * 1024**3
MIN_FREE_BYTES = 8 * 1024**3


def _free_bytes_for_the_engine() -> int | None:
    root = subprocess.run(["docker", "info", "-f", "{{.DockerRootDir}}"], capture_output=True, text=True, check=False)
    path = root.stdout.strip()
    return shutil.disk_usage(path).free if root.returncode == 0 and os.path.isdir(path) else None


@pytest.fixture(scope="module", autouse=True)
def bounded_build_cache():
    yield
    prune = ["docker", "builder", "prune", "--force"]
    free = _free_bytes_for_the_engine()
    if free is None or free < LOW_FREE_BYTES:
        subprocess.run([*prune, "--keep-storage", BUILD_CACHE_BOUND], capture_output=True, check=False)
        free = _free_bytes_for_the_engine()
    if free is not None and free < MIN_FREE_BYTES:
        subprocess.run([*prune, "--all"], capture_output=True, check=False)


# Images the integration tests build only to look at once; removed after each test, so that neither
# one run (the CI host's disk is small: their unpacked layers are several GB together) nor repeated
# runs on one host pile them up. The small image above is kept: other tests reuse it.
THROWAWAY_REPOSITORIES = (
    "airflow-custom",
    "airflow-url",
    "airflow-none",
    "airflow-private",
    "airflow-extended",
    "airflow-offline",
    "airflow-plain",
    "airflow-msodbcsql",
)


@pytest.fixture(autouse=True)
def remove_throwaway_images():
    yield
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=False
    ).stdout.split()
    doomed = [ref for ref in listed if ref.rsplit(":", 1)[0] in THROWAWAY_REPOSITORIES]
    if doomed:
        subprocess.run(["docker", "image", "rm", "--force", *doomed], capture_output=True, check=False)
