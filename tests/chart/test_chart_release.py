"""The chart as a release artifact: `helm lint --strict`, defaults that agree with the version
matrix, packaging, and an OCI push to and pull from a local registry."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from chart_scenarios import KITCHEN_SINK

from airflow_image.chart.package import (
    chart_version_drift,
    committed_defaults,
    expected_defaults,
    package_chart,
    package_default_chart,
    pull_chart,
    push_chart,
    stamp_chart,
)
from airflow_image.matrix import load_matrix
from airflow_image.settings import load_settings

WARNING = 2


@pytest.mark.parametrize("values", [None, KITCHEN_SINK], ids=["defaults", "kitchen-sink"])
@pytest.mark.parametrize("kube_version", [None, "v1.30.0"])
def test_helm_lint_strict_is_clean(chart_path, values, kube_version):
    import helm_python

    report = helm_python.lint(chart_path, values, strict=True, kube_version=kube_version)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


def test_chart_defaults_follow_the_version_matrix(repo_root, chart_path):
    settings = load_settings(repo_root)
    release = load_matrix(settings.matrix_path).default_release()
    have = committed_defaults(chart_path)
    assert have.app_version == release.version
    assert have.image_tag == f"{release.version}-python{settings.default_python}"
    assert have.image_repository == settings.image_name
    assert chart_version_drift(repo_root) == []


def test_drift_is_reported(tmp_path, repo_root):
    """The drift check can fail: a copy with an old appVersion is caught."""
    for name in ("pyproject.toml", "data/airflow-versions.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo_root / name, tmp_path / name)
    shutil.copytree(repo_root / "chart", tmp_path / "chart")
    stale = expected_defaults(repo_root)
    stamp_chart(
        tmp_path / "chart", version=None, defaults=type(stale)("2.0.0", stale.image_repository, "2.0.0-python3.12")
    )
    drift = chart_version_drift(tmp_path)
    assert len(drift) == 2 and any("app_version" in line for line in drift)


def test_package_stamps_versions_without_touching_the_tree(chart_path, tmp_path):
    import helm_python

    before = (chart_path / "Chart.yaml").read_text(), (chart_path / "values.yaml").read_text()
    archive = package_chart(chart_path, tmp_path, version="1.2.3", app_version="3.4.0", image_tag="3.4.0-python3.12")
    assert archive.name == "airflow-1.2.3.tgz"
    assert ((chart_path / "Chart.yaml").read_text(), (chart_path / "values.yaml").read_text()) == before
    with helm_python.Chart.load(archive) as chart:
        assert chart.metadata["version"] == "1.2.3" and chart.metadata["appVersion"] == "3.4.0"
        assert chart.values["image"]["tag"] == "3.4.0-python3.12"
        assert chart.schema is not None
    with tarfile.open(archive) as tar:
        values_text = tar.extractfile("airflow/values.yaml").read().decode()
    # Stamping rewrites single lines: the documentation in values.yaml survives.
    assert '  tag: "3.4.0-python3.12"' in values_text and "# Image tag;" in values_text


def test_package_rejects_a_non_semver_version(chart_path, tmp_path):
    from airflow_image.errors import ConfigError

    with pytest.raises(ConfigError, match="SemVer"):
        package_chart(chart_path, tmp_path, version="v1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    """A Distribution registry on 127.0.0.1 with a throwaway storage root."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("the OCI push test needs a local registry: apt-get install -y docker-registry")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    log = (tmp_path / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {(tmp_path / 'registry.log').read_text()}")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.network
def test_packaged_chart_pushes_to_and_pulls_back_from_a_registry(repo_root, registry, tmp_path):
    import helm_python

    archive = package_default_chart(repo_root, tmp_path / "out", version="0.1.0-test.1")
    pushed = push_chart(archive, f"oci://{registry}/charts", plain_http=True)
    assert pushed == f"oci://{registry}/charts/airflow:0.1.0-test.1"
    pulled = pull_chart(f"oci://{registry}/charts/airflow", "0.1.0-test.1", tmp_path / "pulled", plain_http=True)
    assert helm_python.digest(pulled) == helm_python.digest(archive)
    with helm_python.Chart.load(pulled) as chart:
        assert chart.metadata["appVersion"] == expected_defaults(repo_root).app_version
        rendered = chart.render({}, name="rel", namespace="airflow")
    assert any("kind: StatefulSet" in text for text in rendered.values())


def test_push_needs_an_oci_reference(tmp_path):
    from airflow_image.errors import ConfigError

    with pytest.raises(ConfigError, match="oci://"):
        push_chart(Path(tmp_path / "x.tgz"), "https://example.com/charts")
