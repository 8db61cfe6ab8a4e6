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


# The integration session runs two pytest-xdist workers with `--dist loadfile`: each module is a unit of
# work, except the release and rebuild modules, which make two chains. A chain is one unit, so that its
# tests keep their order on one worker: the rebuild tests find the release tests' layers in the build
# cache (running them beside the release would build the same layers twice at once). The multi-platform
# chain builds arm64 under emulation, the longest work of the suite; the other chain releases amd64
# flavours whose builds ci_images left in the cache. Both chains go first, one to each worker, and the
# workers then take the remaining modules one by one. Measured with both workers busy: the CPU is ~95%
# used (in one process, tests that wait on Airflow, compose or the registry left a core idle); with
# both chains on one worker, the other one sat idle for its last 5 minutes.
CHAIN_MODULES = ("tests/integration/release/test_release.py", "tests/integration/security/test_rebuild_stale.py")
MULTI_PLATFORM = "multi_platform"
CHAINS = ("multi-platform-chain", "release-chain")  # handed out first, in this order
# Next: `docker build .` of the production image. In CI `nox -s ci_images` has just built the same
# image, and its layers are still in the build cache (the module ends below prune it only when the
# disk runs short). A cold build of it is ~3 min on a 2-core host, a cached one seconds.
FIRST_MODULES = ("test_plain_docker_build.py",)


def chain_of(nodeid: str) -> str | None:
    """The chain a test belongs to, or None for the tests scheduled module by module."""
    if not nodeid.startswith(CHAIN_MODULES):
        return None
    return CHAINS[0] if MULTI_PLATFORM in nodeid.partition("::")[2] else CHAINS[1]


def _rank(item: pytest.Item) -> tuple[int, bool]:
    chain = chain_of(item.nodeid)
    return (CHAINS.index(chain) if chain else len(CHAINS), item.path.name not in FIRST_MODULES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: within each rank the tests keep pytest's order. xdist hands out the units of work
    # in this order (the session passes --no-loadscope-reorder).
    items.sort(key=_rank)


try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # without xdist the suite runs in one process, in the order above
    LoadFileScheduling = None


if LoadFileScheduling is not None:

    class ChainScheduling(LoadFileScheduling):
        """`--dist loadfile`, with each chain as one file."""

        def _split_scope(self, nodeid: str) -> str:
            return chain_of(nodeid) or super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") == "loadfile" and LoadFileScheduling is not None:
        return ChainScheduling(config, log)
    return None


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


# Images the integration tests build only to look at once: a module names its repositories with
# `pytestmark = pytest.mark.throwaway_images(...)`, and they are removed after each of its tests, so
# that neither one run (the CI host's disk is small: their unpacked layers are several GB together)
# nor repeated runs on one host pile them up. Only the module's own: another worker may be using its
# own throwaway images right now. The small image above is kept: other tests reuse it.
@pytest.fixture(autouse=True)
def remove_throwaway_images(request: pytest.FixtureRequest):
    yield
    mark = request.node.get_closest_marker("throwaway_images")
    if mark is None:
        return
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=False
    ).stdout.split()
    doomed = [ref for ref in listed if ref.rsplit(":", 1)[0] in mark.args]
    if doomed:
        subprocess.run(["docker", "image", "rm", "--force", *doomed], capture_output=True, check=False)
