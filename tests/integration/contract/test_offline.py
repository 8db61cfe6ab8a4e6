"""Air-gapped builds: docker-context-files/ filled by the project, then a build with no network.

Each test works on a copy of the build context, so filling it never touches the repository's
own docker-context-files/ (nor the cache keys of everybody else's builds).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, build_image, fill_context_files, plan_build
from airflow_image.engine import inspect_image, source_info
from airflow_image.params import buildx_command

from ..conftest import ROOT, SMALL_PYTHON

pytestmark = pytest.mark.throwaway_images("airflow-offline")

EXTRAS = ("postgres",)


@pytest.fixture(scope="module")
def filled_context(tmp_path_factory, settings, matrix, runner, ca_bundle) -> Path:
    context = tmp_path_factory.mktemp("context")
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy2(ROOT / name, context / name)
    for name in ("image", "constraints"):
        shutil.copytree(ROOT / name, context / name)
    (context / "docker-context-files").mkdir()
    options = BuildOptions(python=SMALL_PYTHON, extras=EXTRAS, ca_bundle=ca_bundle, context=context)
    fill_context_files(settings, matrix, options, runner, dest=context / "docker-context-files")
    return context


def offline_options(context: Path, tag: str) -> BuildOptions:
    return BuildOptions(python=SMALL_PYTHON, extras=EXTRAS, context=context, offline=True, tags=(tag,))


def test_fill_brings_wheels_built_from_sdists_and_debs(filled_context):
    files = filled_context / "docker-context-files"
    wheels = {p.name.split("-")[0].lower() for p in (files / "wheels").glob("*.whl")}
    assert {"apache_airflow", "psycopg2_binary", "asyncpg", "uv", "pip"} <= wheels
    assert list((files / "debs" / "build").glob("gcc*.deb")), "build-stage debs are missing"
    assert list((files / "debs" / "runtime").glob("dumb-init*.deb")), "runtime debs are missing"


def test_offline_build_succeeds_with_no_network(filled_context, settings, matrix, runner):
    tag = "airflow-offline:it"
    request = build_image(settings, matrix, offline_options(filled_context, tag), runner)
    assert request.network == "none"
    ran = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", tag, "bash", "-c", "airflow version && pip check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines()[0] == matrix.default_release().version


def test_offline_build_names_the_missing_distribution(filled_context, tmp_path, settings, matrix, runner):
    context = tmp_path / "context"
    shutil.copytree(filled_context, context)
    next((context / "docker-context-files" / "wheels").glob("asyncpg-*.whl")).unlink()
    request = plan_build(
        settings,
        matrix,
        offline_options(context, "airflow-offline:broken"),
        lookup=lambda ref: inspect_image(runner, ref),
        source=source_info(runner, ROOT),
    )
    # run directly to read the build's own output (the runner streams it to the terminal)
    result = subprocess.run(
        buildx_command(request, context=context, dockerfile=context / "Dockerfile"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode != 0
    assert "asyncpg" in result.stderr
    assert "docker-context-files/ (it lacks the distribution named above" in result.stderr
