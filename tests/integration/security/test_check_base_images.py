"""`invoke check-base-images` and `invoke rebuild-stale` against a real registry that hosts the base
images too. The released images here are small stand-ins that carry a real image's labels (what the
check reads); the rebuild of real Airflow images is test_rebuild_stale.py."""

from __future__ import annotations

import pytest

from airflow_image.base_check import BASE_DIGEST_LABEL, BASE_NAME_LABEL, EXIT_CURRENT, EXIT_PROBLEM, EXIT_STALE
from airflow_image.credentials import Credentials
from airflow_image.sbom_publish import ArtifactClient, push_sbom

from ..release.conftest import USER
from ..release.test_release import invoke
from .conftest import docker, free_port

VERSION = "3.3.2"


def release_stand_in(
    registry, tags: tuple[str, ...], *, python: str, base: str, digest: str, built_on: str | None = None
) -> str:
    """A small image with a release's labels, pushed under `tags`; `built_on` when the labelled base
    cannot be built from (a registry that is down)."""
    labels = {
        "org.apache.airflow.version": VERSION,
        "org.apache.airflow.python.version": python,
        "org.apache.airflow.variant": "regular",
        BASE_NAME_LABEL: base,
        BASE_DIGEST_LABEL: digest,
    }
    flags = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    refs = [f"{registry.host}/airflow:{t}" for t in tags]
    docker("build", "--quiet", *flags, *(a for r in refs for a in ("--tag", r)), "-",
           input=f"FROM {built_on or base}\n", registry=registry)
    for ref in refs:
        docker("push", "--quiet", ref, registry=registry)
    return registry.client().head_manifest("airflow", tags[0])


def rows(stdout: str) -> dict[str, list[str]]:
    """image → [base, built from, current, stale] from the printed table."""
    table = {}
    for line in stdout.splitlines():
        cells = line.split()
        if len(cells) == 5 and "/airflow:" in cells[0]:
            table[cells[0].rsplit(":", 1)[1]] = cells[1:]
    return table


TAGS_311 = ("3.3.2-python3.11", "3.3-python3.11")
TAGS_313 = ("3.3.2-python3.13", "3.3-python3.13")


def test_only_images_on_the_patched_base_are_stale(registry, bases):
    d1 = {p: bases.publish(p) for p in ("3.11", "3.13")}
    release_stand_in(registry, TAGS_311, python="3.11", base=bases.ref("3.11"), digest=d1["3.11"])
    release_stand_in(registry, TAGS_313, python="3.13", base=bases.ref("3.13"), digest=d1["3.13"])

    first = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert first.returncode == EXIT_CURRENT, first.stdout + first.stderr
    assert {t: r[3] for t, r in rows(first.stdout).items()} == dict.fromkeys(TAGS_311 + TAGS_313, "no")

    d2 = bases.patch("3.11")
    assert d2 != d1["3.11"]
    second = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert second.returncode == EXIT_STALE, second.stdout + second.stderr
    table = rows(second.stdout)
    assert {t: r[3] for t, r in table.items()} == {**dict.fromkeys(TAGS_311, "yes"), **dict.fromkeys(TAGS_313, "no")}
    assert table["3.3.2-python3.11"][1:3] == [d1["3.11"].split(":")[1][:12], d2.split(":")[1][:12]]

    # A dry run names the rebuild and its tags and changes nothing.
    before = registry.client().list_tags("airflow")
    dry = invoke("rebuild-stale", "--registry", registry.host, "--dry-run", docker_config=registry.docker_config)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"rebuild {VERSION}-python3.11 on {bases.ref('3.11')}" in dry.stdout
    assert f"move {registry.host}/airflow:3.3-python3.11" in dry.stdout
    assert "python3.13 on" not in dry.stdout
    assert registry.client().list_tags("airflow") == before


@pytest.mark.parametrize("command", ["check-base-images", "rebuild-stale"])
def test_a_base_registry_that_is_down_gives_one_line_per_image_and_rebuilds_nothing(registry, bases, command):
    down = f"127.0.0.1:{free_port()}"
    d1 = bases.publish("3.11")
    unreachable_base = f"{down}/python:3.11-slim-bookworm"
    release_stand_in(registry, TAGS_311, python="3.11", base=unreachable_base, digest=d1, built_on=bases.ref("3.11"))
    before = {t: registry.client().head_manifest("airflow", t) for t in TAGS_311}

    result = invoke(command, "--registry", registry.host, docker_config=registry.docker_config)

    assert result.returncode == EXIT_PROBLEM, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if "unreachable" in line]
    assert problems == [
        f"{registry.host}/airflow:{t}: cannot check base {down}/python:3.11-slim-bookworm: "
        f"registry {down} is unreachable (connection refused)"
        for t in sorted(TAGS_311)
    ]
    if command == "rebuild-stale":
        assert result.stderr.strip().splitlines()[-1].startswith("error: 2 image(s) could not be checked, so nothing")
        assert "buildx" not in result.stdout + result.stderr
    assert registry.client().list_tags("airflow") == tuple(sorted(TAGS_311))
    assert {t: registry.client().head_manifest("airflow", t) for t in TAGS_311} == before


def test_an_sbom_is_pushed_next_to_its_image_and_is_not_mistaken_for_an_image(registry, bases):
    d1 = bases.publish("3.11")
    image_digest = release_stand_in(registry, TAGS_311[:1], python="3.11", base=bases.ref("3.11"), digest=d1)
    client = ArtifactClient(registry.host, credentials=Credentials(USER, registry.password, "test"))
    document = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}

    tag = push_sbom(client, "airflow", image_digest, document)

    assert tag == f"sha256-{image_digest.split(':')[1]}.sbom"
    manifest = client.get_manifest("airflow", tag)
    assert manifest.data["subject"]["digest"] == image_digest
    layer = manifest.data["layers"][0]
    blob = client._request("GET", f"/v2/airflow/blobs/{layer['digest']}", scope="repository:airflow:pull")
    assert layer["mediaType"] == "application/vnd.cyclonedx+json" and blob.json() == document
    # The check skips the attached artifact instead of reporting an image without labels.
    check = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert check.returncode == EXIT_CURRENT, check.stdout + check.stderr
    assert list(rows(check.stdout)) == [TAGS_311[0]]
