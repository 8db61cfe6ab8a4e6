"""SBOM pieces that need no engine: the dpkg database, Debian PURLs, merging with the generator's
output, schema validation, and the package changes between two images."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from airflow_image.errors import RegistryError, SbomError
from airflow_image.registry import DOCKER_MANIFEST, OCI_INDEX, Manifest
from airflow_image.runner import Result
from airflow_image.sbom import (
    DebPackage,
    ImageInventory,
    deb_purl,
    debian_components,
    diff_packages,
    format_changes,
    merge_sbom,
    parse_dpkg_status,
    parse_os_release,
    python_sbom,
    python_sbom_command,
    validate_sbom,
)
from airflow_image.sbom_publish import publish_sboms, sbom_manifest, sbom_tag

DPKG_STATUS = """\
Package: libssl3t64
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.5.4-1~deb13u1
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.
 .
 Description: continued

Package: bash
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 5.2.37-2+b5
Description: GNU Bourne Again SHell

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
"""

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'


def test_dpkg_status_lists_installed_packages_only():
    assert parse_dpkg_status(DPKG_STATUS) == [
        DebPackage("bash", "5.2.37-2+b5", "amd64"),
        DebPackage("libssl3t64", "3.5.4-1~deb13u1", "amd64", "openssl"),
    ]
    assert parse_os_release(OS_RELEASE)["VERSION_ID"] == "13"


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        (DebPackage("bash", "5.2.37-2+b5", "amd64"), "pkg:deb/debian/bash@5.2.37-2%2Bb5?arch=amd64&distro=debian-13"),
        (DebPackage("libssl3t64", "3.5.4-1~deb13u1", "amd64", "openssl"),
         "pkg:deb/debian/libssl3t64@3.5.4-1~deb13u1?arch=amd64&distro=debian-13&upstream=openssl"),
        (DebPackage("tzdata", "2025b-4", "all"), "pkg:deb/debian/tzdata@2025b-4?arch=all&distro=debian-13"),
    ],
)
def test_deb_purl(package, expected):
    assert deb_purl(package, distro="debian-13") == expected


# What `cyclonedx-py environment` writes, cut down to two distributions.
PYTHON_BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "serialNumber": "urn:uuid:2b0c3c4e-4a0f-4d53-9a43-2c7d4a0b6c11",
    "version": 1,
    "metadata": {"timestamp": "2026-11-25T05:00:00+00:00"},
    "components": [
        {"type": "library", "bom-ref": "apache-airflow==3.3.2", "name": "apache-airflow", "version": "3.3.2",
         "purl": "pkg:pypi/apache-airflow@3.3.2"},
        {"type": "library", "bom-ref": "psycopg2-binary==2.9.11", "name": "psycopg2-binary", "version": "2.9.11",
         "purl": "pkg:pypi/psycopg2-binary@2.9.11"},
    ],
    "dependencies": [{"ref": "apache-airflow==3.3.2"}, {"ref": "psycopg2-binary==2.9.11"}],
}


def merged() -> dict:
    packages = parse_dpkg_status(DPKG_STATUS)
    # a deep copy in: merge_sbom shares the generator's component objects, and a test changes one
    return merge_sbom(copy.deepcopy(PYTHON_BOM), debian_components(packages, distro="debian-13"),
                      image="127.0.0.1:5000/airflow:3.3.2-python3.11", digest="sha256:" + "a" * 64,
                      labels={"org.apache.airflow.version": "3.3.2"})


def test_merged_sbom_has_both_sides_and_validates():
    document = merged()
    validate_sbom(document)
    purls = {c["purl"] for c in document["components"]}
    assert purls == {
        "pkg:pypi/apache-airflow@3.3.2",
        "pkg:pypi/psycopg2-binary@2.9.11",
        "pkg:deb/debian/bash@5.2.37-2%2Bb5?arch=amd64&distro=debian-13",
        "pkg:deb/debian/libssl3t64@3.5.4-1~deb13u1?arch=amd64&distro=debian-13&upstream=openssl",
    }
    image = document["metadata"]["component"]
    assert (image["type"], image["name"], image["version"]) == (
        "container", "127.0.0.1:5000/airflow", "sha256:" + "a" * 64)
    assert {"name": "org.apache.airflow.version", "value": "3.3.2"} in image["properties"]
    image_deps = next(d for d in document["dependencies"] if d["ref"] == "image")
    assert len(image_deps["dependsOn"]) == 4


def test_an_invalid_sbom_is_refused():
    document = merged()
    document["components"][0]["type"] = "not-a-type"
    with pytest.raises(SbomError, match=r"does not validate against CycloneDX 1\.6"):
        validate_sbom(document)


def test_generator_runs_in_a_throw_away_container_on_the_images_interpreter():
    argv = python_sbom_command("img:1", Path("/site"), python="/opt/airflow-venv/bin/python")
    assert argv[:6] == ["docker", "run", "--rm", "--network", "none", "--entrypoint"]
    assert "/site:/opt/sbom-tool:ro" in argv
    # -I: the inspected interpreter, started by the generator, must not inherit the tool's path.
    assert argv[argv.index("img:1") + 1] == "-I"
    assert argv[-9:] == ["environment", "--no-validate", "--output-format", "JSON", "--spec-version", "1.6",
                         "--output-file", "-", "/opt/airflow-venv/bin/python"]


class OneAnswer:
    dry_run = False

    def __init__(self, returncode, stdout="", stderr=""):
        self.result = Result(("x",), returncode, stdout, stderr)

    def run(self, argv, **kwargs):
        return self.result


def test_a_failing_generator_is_one_line():
    with pytest.raises(SbomError, match=r"cyclonedx-py failed in a container of img:1: boom$"):
        python_sbom(OneAnswer(1, stderr="trace\nboom\n"), "img:1", tool=Path("/site"))


@pytest.mark.parametrize(
    ("old", "new", "added", "removed", "upgraded"),
    [
        ({"a": "1"}, {"a": "1"}, (), (), ()),
        ({"a": "1"}, {"a": "2", "b": "1"}, (("b", "1"),), (), (("a", "1", "2"),)),
        ({"a": "1", "c": "3"}, {"a": "1"}, (), (("c", "3"),), ()),
    ],
)
def test_diff_packages(old, new, added, removed, upgraded):
    changes = diff_packages("debian", old, new)
    assert (changes.added, changes.removed, changes.upgraded) == (added, removed, upgraded)


def test_change_report():
    old = ImageInventory({"libssl3t64": "3.5.4-1", "bash": "5.2"}, {"apache-airflow": "3.3.2"}, 500_000_000)
    new = ImageInventory({"libssl3t64": "3.5.4-2", "bash": "5.2"}, {"apache-airflow": "3.3.2"}, 501_200_000)
    assert format_changes("r/a@old", "r/a:new", old, new) == [
        "changes from r/a@old to r/a:new:",
        "  debian: ~ libssl3t64 3.5.4-1 -> 3.5.4-2",
        "  python: no package changed",
        "  size: 500.0 MB -> 501.2 MB (+1.2 MB)",
    ]


def test_sbom_artifact_manifest_names_its_image_as_subject():
    subject = Manifest("sha256:" + "b" * 64, "application/vnd.oci.image.manifest.v1+json", b'{"layers":[]}')
    document = b'{"bomFormat":"CycloneDX"}'
    body = json.loads(sbom_manifest(document, subject=subject))
    assert body["artifactType"] == "application/vnd.cyclonedx+json"
    assert body["subject"] == {"mediaType": subject.media_type, "digest": subject.digest, "size": 13}
    assert body["layers"][0]["size"] == len(document)
    assert body["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert sbom_tag(subject.digest) == "sha256-" + "b" * 64 + ".sbom"


AMD, ARM, INDEX = ("sha256:" + c * 64 for c in "123")


class ArtifactRegistry:
    """An index of two platform images; takes blobs and manifests unless told to refuse them."""

    host = "reg:5000"

    def __init__(self, refuse=False):
        self.refuse, self.pushed = refuse, {}

    def get_manifest(self, repository, reference):
        if reference == INDEX:
            entries = [{"digest": d, "platform": {"os": "linux", "architecture": a}} for d, a in ((AMD, "amd64"),
                                                                                               (ARM, "arm64"))]
            return Manifest(INDEX, OCI_INDEX, json.dumps({"manifests": entries}).encode())
        return Manifest(reference, DOCKER_MANIFEST, b"{}") if reference in (AMD, ARM) else None

    def upload_blob(self, repository, data):
        if self.refuse:
            raise RegistryError("registry reg:5000 answered 415 to PUT airflow blob")
        return "sha256:" + "0" * 64

    def put_manifest(self, repository, tag, manifest):
        self.pushed[tag] = manifest
        return manifest.digest


def test_each_platform_image_gets_its_own_file_and_artifact(tmp_path):
    registry, lines = ArtifactRegistry(), []
    documents = {"linux/amd64": merged(), "linux/arm64": merged()}
    published = publish_sboms(registry, "airflow", INDEX, documents, name="3.3.2-python3.11", out_dir=tmp_path,
                              out=lines.append)  # fmt: skip
    assert sorted(published) == [AMD, ARM]
    for digest, arch in ((AMD, "amd64"), (ARM, "arm64")):
        written = json.loads((tmp_path / f"3.3.2-python3.11-{arch}.cdx.json").read_text())
        assert written == published[digest] and written["metadata"]["component"]["version"] == digest
        assert json.loads(registry.pushed[sbom_tag(digest)].body)["subject"]["digest"] == digest


def test_a_registry_that_refuses_artifacts_leaves_the_sbom_a_file(tmp_path):
    lines = []
    publish_sboms(ArtifactRegistry(refuse=True), "airflow", AMD, {"": merged()}, name="3.3.2-python3.11",
                  out_dir=tmp_path, out=lines.append)  # fmt: skip
    assert (tmp_path / "3.3.2-python3.11.cdx.json").is_file()
    assert lines[-1] == ("SBOM of 3.3.2-python3.11 not pushed (kept as a file): registry reg:5000 answered 415 to "
                         "PUT airflow blob")


def test_an_image_without_a_generated_sbom_is_refused(tmp_path):
    with pytest.raises(SbomError, match=r"^no SBOM was generated for linux/arm64 of 3\.3\.2-python3\.11 "):
        publish_sboms(ArtifactRegistry(), "airflow", INDEX, {"linux/amd64": merged()}, name="3.3.2-python3.11",
                      out_dir=tmp_path, out=print)  # fmt: skip
