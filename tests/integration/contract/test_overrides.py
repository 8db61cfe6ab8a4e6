"""A real build with a security override: it lands in the environment, the kept constraints, the
documented file, the label and the SBOM, and `pip check` stays clean."""

from __future__ import annotations

import subprocess

import pytest

from airflow_image.build import BuildOptions, build_image
from airflow_image.engine import inspect_image
from airflow_image.locks import lock_path, pinned_version
from airflow_image.overrides import IMAGE_PATH, LABEL, SBOM_PROPERTY
from airflow_image.sbom import image_sbom

from ..conftest import ROOT, SMALL_EXTRAS, SMALL_PYTHON

# tenacity is pure Python with no dependencies of its own. The lock holds it at 9.1.4 for the full
# production extras; postgres,celery resolve to 9.2.1 with every declared bound met, so the pin is
# real, harmless and `pip check` stays clean. The advisory is GitHub's placeholder id.
PACKAGE, VERSION, ADVISORY = "tenacity", "9.2.1", "GHSA-xxxx-xxxx-xxxx"
TAG = "airflow-overrides:it"


@pytest.fixture(scope="module")
def overridden(tmp_path_factory, settings, matrix, runner, ca_bundle):
    lock = lock_path(ROOT / "constraints", matrix.default_release().version, SMALL_PYTHON)
    assert pinned_version(lock.read_text(), PACKAGE) == "9.1.4", "the lock moved: pick another pin above it"
    overrides = tmp_path_factory.mktemp("overrides") / "security-overrides.toml"
    overrides.write_text(
        f'[[override]]\npackage = "{PACKAGE}"\nversion = "{VERSION}"\nadvisory = "{ADVISORY}"\n'
        'reason = "integration test: a harmless pin above the lock"\n'
    )
    options = BuildOptions(
        python=SMALL_PYTHON, extras=SMALL_EXTRAS, tags=(TAG,), ca_bundle=ca_bundle, security_overrides=overrides
    )
    request = build_image(settings, matrix, options, runner)
    yield request
    subprocess.run(["docker", "image", "rm", "--force", TAG], capture_output=True, check=False)


def test_the_override_is_installed_and_recorded_in_the_image(overridden, run_in):
    assert [str(o) for o in overridden.security_overrides] == [f"{PACKAGE}=={VERSION} ({ADVISORY})"]
    ran = run_in(
        TAG,
        [
            "bash", "-c",
            f"set -e; python -c 'import importlib.metadata as m; print(\"installed\", m.version(\"{PACKAGE}\"))'; "
            f"grep -v '^#' {IMAGE_PATH}; grep -i '^{PACKAGE}==' /usr/local/share/airflow/constraints.txt; "
            "pip check",
        ],
    )
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert f"installed {VERSION}" in lines
    assert f"{PACKAGE}=={VERSION}  # {ADVISORY}" in lines  # the documented file
    assert f"{PACKAGE}=={VERSION}  # security override ({ADVISORY})" in lines  # the kept constraints
    assert "No broken requirements found." in lines


def test_the_override_is_in_the_label_and_the_sbom(overridden, runner):
    image = inspect_image(runner, TAG)
    assert image is not None
    assert image.labels[LABEL] == f"{PACKAGE}=={VERSION} ({ADVISORY})"
    document = image_sbom(runner, TAG, digest=image.id, labels=image.labels)
    marked = {
        (c["name"].lower(), c["version"]): p["value"]
        for c in document["components"]
        for p in c.get("properties", [])
        if p["name"] == SBOM_PROPERTY
    }
    assert marked == {(PACKAGE, VERSION): ADVISORY}
