"""`invoke release` against a real registry: real builds, real image tests, real pushes.

Flavours are narrowed to the two that have local bases on a bare CI host (3.11, 3.13) and the images
carry one small extra, so builds come from BuildKit's cache after the first time.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_image.credentials import CredentialSources
from airflow_image.engine import host_platform, platform_manifest_digest, read_local_index
from airflow_image.release import release
from airflow_image.release_plan import ENV_REGISTRY, INPUTS_HASH_LABEL, ReleaseOptions, flavour_tags, parse_registry
from airflow_image.runner import SubprocessRunner
from airflow_image.sbom import validate_sbom
from airflow_image.sbom_publish import SBOM_MEDIA_TYPE, sbom_tag
from airflow_image.signing import attested_predicates

from ..conftest import SMALL_EXTRAS
from .conftest import PASSWORD, USER, cosign, free_port, key_pair

ROOT = Path(__file__).resolve().parents[3]
VERSION = "3.3.2"
PYTHONS = ("3.11", "3.13")
# The small image's extras: CI's `nox -s ci_images` builds both flavours with them just before, so each
# release build here finds its layers in the build cache (a flavour with other extras is a cold build).
EXTRAS = SMALL_EXTRAS
# Enough of the image suite to prove an image is the flavour and version it claims to be; the
# end-to-end test runs the whole suite.
QUICK_TESTS = ("-k", "test_airflow_version_is_the_requested_one or test_python_is_the_flavour or test_labels")
# What every platform of a multi-platform release is tested for in CI (arm64 under emulation).
PLATFORM_TESTS = (
    f"{QUICK_TESTS[1]} or test_pip_check_is_clean or test_runs_as_airflow_uid_and_root_group or test_architecture"
)
# The engine's own platform: the tests below release one platform (no emulation); the multi-platform
# test releases both.
HOST_PLATFORM = host_platform(SubprocessRunner())
# The environment variables that would change what the entry point does, cleared for every run.
_OWN_ENV = (ENV_REGISTRY, "AIRFLOW_IMAGE_REGISTRY_USER", "AIRFLOW_IMAGE_REGISTRY_PASSWORD", "DOCKER_CONFIG")


def invoke(*args: str, docker_config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in _OWN_ENV}
    environ.update({"DOCKER_CONFIG": str(docker_config), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=3600
    )


def release_args(
    host: str, *extra: str, pythons=PYTHONS, version=VERSION, platforms=(HOST_PLATFORM,), out: Path | None = None
) -> list[str]:
    flavours = [a for p in pythons for a in ("--python", p)]
    chosen = [a for p in platforms for a in ("--platform", p)]
    folder = ["--out", str(out)] if out is not None else []
    extras = ["--extras", ",".join(EXTRAS)]
    return ["release", "--version", version, "--registry", host, *flavours, *chosen, *extras, *folder, *extra]


@dataclass
class RecordingRunner:
    """The real runner, recording every command; optionally killed at the Nth `docker push`."""

    kill_at_push: int = 0
    commands: list[list[str]] = field(default_factory=list)
    dry_run: bool = False
    inner: SubprocessRunner = field(default_factory=SubprocessRunner)

    @property
    def echo(self):
        return self.inner.echo

    def run(self, argv, **kwargs):
        self.commands.append([str(a) for a in argv])
        pushes = sum(1 for c in self.commands if c[:2] == ["docker", "push"])
        if self.kill_at_push and pushes == self.kill_at_push and argv[:2] == ["docker", "push"]:
            raise KeyboardInterrupt("killed during the release")
        return self.inner.run(argv, **kwargs)

    def ran(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.commands if c[: len(prefix)] == list(prefix)]


def options_for(registry, ca_bundle, *, version=VERSION, pythons=PYTHONS, constraints="lock") -> ReleaseOptions:
    return ReleaseOptions(
        airflow_version=version,
        registry=parse_registry(registry.host),
        pythons=pythons,
        extras=EXTRAS,
        constraints=constraints,
        ca_bundle=ca_bundle,
        test_args=QUICK_TESTS,
        interpreter=sys.executable,
        credentials=CredentialSources(docker_config=registry.docker_config),
        platforms=(HOST_PLATFORM,),
    )


def digests(client, tags) -> dict[str, str]:
    return {t: client.head_manifest("airflow", t) for t in tags}


def image_tags(client) -> set[str]:
    """The registry's tags less the SBOM artifacts attached to images."""
    return {t for t in client.list_tags("airflow") if not t.endswith(".sbom")}


def check_published_sbom(client, tag: str, path: Path) -> None:
    """The SBOM file of `tag`'s image (the engine's platform): valid, naming the pushed image, listing
    Airflow and a Debian libc6, and read back from the registry as the artifact beside the image."""
    document = json.loads(path.read_text())
    validate_sbom(document)
    image = client.image_manifest("airflow", tag, platform=HOST_PLATFORM).digest
    assert document["metadata"]["component"]["version"] == image
    purls = [c.get("purl", "") for c in document["components"]]
    assert "pkg:pypi/apache-airflow@3.3.2" in purls
    arch = HOST_PLATFORM.rpartition("/")[2]
    assert any(p.startswith("pkg:deb/debian/libc6@") and f"arch={arch}" in p for p in purls), purls
    artifact = client.get_manifest("airflow", sbom_tag(image))
    assert artifact is not None, f"no SBOM was pushed beside {tag} ({image})"
    assert artifact.data["subject"]["digest"] == image and artifact.data["artifactType"] == SBOM_MEDIA_TYPE
    [layer] = artifact.data["layers"]
    assert json.loads(client.blob("airflow", layer["digest"])) == document


def test_release_of_two_flavours_end_to_end(registry, settings, matrix, ca_bundle, tmp_path):
    out = tmp_path / "release"
    # a subset of the image suite as the gate: the whole suite runs in ci_images (on this very 3.13
    # image, and on 3.11 with one extra more); a failing test's effect is test_a_failing_image_test_pushes_nothing's
    result = invoke(*release_args(registry.host, "--pytest-args", shlex.join(QUICK_TESTS), out=out),
                    docker_config=registry.docker_config)  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "not signed: no --sign-key or --sign-keyless given" in result.stdout

    planned = {t for p in PYTHONS for t in flavour_tags(matrix, matrix.get(VERSION), p, "regular")}
    assert planned == {f"{n}-python{p}" for n in ("3.3.2", "3.3", "latest") for p in PYTHONS}
    client = registry.client()
    assert image_tags(client) == planned
    # Unsigned, yet every pushed image has its SBOM: a file next to the summary, and beside the image.
    folder = out / VERSION
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["summary.txt", *(f"{VERSION}-python{p}.cdx.json" for p in PYTHONS)])
    summary = (folder / "summary.txt").read_text()
    for python in PYTHONS:
        exact = f"{VERSION}-python{python}"
        check_published_sbom(client, exact, folder / f"{exact}.cdx.json")
        assert f"{registry.host}/airflow:{exact}" in summary and client.head_manifest("airflow", exact) in summary
    assert set(client.list_tags("airflow")) - planned == {
        sbom_tag(client.image_manifest("airflow", f"{VERSION}-python{p}", platform=HOST_PLATFORM).digest)
        for p in PYTHONS}
    for python in PYTHONS:
        names = [f"{n}-python{python}" for n in ("3.3.2", "3.3", "latest")]
        assert len(set(digests(client, names).values())) == 1, f"tags of Python {python} point at different images"
        labels = client.image_labels("airflow", names[0])
        assert labels["org.apache.airflow.python.version"] == python
        assert labels[INPUTS_HASH_LABEL].startswith("sha256:")
        # The summary reports what the registry says.
        assert f"{registry.host}/airflow:{names[0]}" in result.stdout
        assert client.head_manifest("airflow", names[0]) in result.stdout

    # Pulled from the registry (local names dropped first), the images run.
    for python in PYTHONS:
        ref = f"{registry.host}/airflow:latest-python{python}"
        for name in ("3.3.2", "3.3", "latest"):
            subprocess.run(["docker", "image", "rm", f"{registry.host}/airflow:{name}-python{python}"], check=True)
        env = {**os.environ, "DOCKER_CONFIG": str(registry.docker_config)}
        subprocess.run(["docker", "pull", "-q", ref], check=True, env=env, capture_output=True)
        run = subprocess.run(["docker", "run", "--rm", ref, "airflow", "version"], capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.strip().splitlines()[-1] == VERSION, run.stdout + run.stderr

    # A second run finds every tag current: nothing built, tested, tagged or pushed.
    before = digests(client, planned)
    runner = RecordingRunner()
    results = release(settings, matrix, options_for(registry, ca_bundle), runner=runner, out=lambda line: None)
    assert {r.action for r in results} == {"unchanged"}
    assert not runner.ran("docker", "buildx") and not runner.ran("docker", "push") and not runner.ran("docker", "tag")
    assert digests(client, planned) == before


def test_a_failing_image_test_pushes_nothing(registry):
    # The release hands every flavour's image tests one extra argument that states a wrong expectation
    # for one flavour only: `--python-flavour=3.11` overrides the flavour each run is given, so the
    # 3.11 image passes while the real 3.13 image really fails `test_python_is_the_flavour`.
    result = invoke(
        *release_args(registry.host, "--pytest-args", "--python-flavour=3.11 -k test_python_is_the_flavour"),
        docker_config=registry.docker_config,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: image tests failed for Python 3.13 ") and "nothing was pushed" in last
    assert registry.client().list_tags("airflow") == ()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"AIRFLOW_IMAGE_REGISTRY_USER": USER, "AIRFLOW_IMAGE_REGISTRY_PASSWORD": "wrong-password"},
            "rejected the credentials for user 'releaser' (from environment)",
        ),
        ({}, "requires credentials; none were found"),
    ],
    ids=["wrong-password", "no-credentials"],
)
def test_bad_credentials_refuse_in_one_line_before_building(registry, tmp_path, env, expected):
    empty_config = tmp_path / "empty-docker-config"
    empty_config.mkdir()
    result = invoke(*release_args(registry.host), docker_config=empty_config, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot release apache-airflow 3.3.2:"), result.stderr
    assert registry.host in lines[0] and expected in lines[0]
    assert "wrong-password" not in result.stdout + result.stderr
    assert "buildx" not in result.stdout + result.stderr
    assert registry.client().list_tags("airflow") == ()


def test_registry_down_refuses_in_one_line(tmp_path):
    host = f"127.0.0.1:{free_port()}"
    result = invoke(*release_args(host), docker_config=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: cannot release apache-airflow 3.3.2: registry {host} is unreachable (connection refused)"]


def test_interrupted_release_resumes_and_an_older_patch_never_moves_latest(registry, settings, matrix, ca_bundle):
    client = registry.client()
    newest = ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")

    # Killed after the first push: the registry holds the exact tag only.
    killed = RecordingRunner(kill_at_push=2)
    with pytest.raises(KeyboardInterrupt):
        release(settings, matrix, options_for(registry, ca_bundle, pythons=("3.11",)), runner=killed, out=print)
    assert client.list_tags("airflow") == ("3.3.2-python3.11",)

    # The re-run completes it without a build: the other tags point at the manifest already pushed.
    resumed = RecordingRunner()
    results = release(settings, matrix, options_for(registry, ca_bundle, pythons=("3.11",)), runner=resumed, out=print)
    assert not resumed.ran("docker", "buildx") and not resumed.ran("docker", "push")
    assert {r.ref.rsplit(":", 1)[1]: r.action for r in results} == {
        "3.3.2-python3.11": "unchanged",
        "3.3-python3.11": "copied",
        "latest-python3.11": "copied",
    }
    before = digests(client, newest)
    assert len(set(before.values())) == 1

    # An older patch released afterwards (no committed locks for it, hence --constraints none)
    # gets its exact tag and moves nothing else.
    older = options_for(registry, ca_bundle, version="3.3.1", pythons=("3.11",), constraints="none")
    results = release(settings, matrix, older, runner=RecordingRunner(), out=print)
    assert [r.ref for r in results] == [f"{registry.host}/airflow:3.3.1-python3.11"]
    assert image_tags(client) == {*newest, "3.3.1-python3.11"}
    assert digests(client, newest) == before
    assert client.head_manifest("airflow", "3.3.1-python3.11") not in before.values()


def _local_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_multi_platform_release_publishes_one_index_per_tag(registry, settings, matrix, tmp_path):
    """linux/amd64 natively and linux/arm64 under emulation: each platform built and tested, pushed under
    its platform tag, then one index under every tag, signed with each platform's own SBOM attested;
    read back and run per platform from the registry."""
    platforms = ("linux/amd64", "linux/arm64")
    private, public = key_pair(tmp_path / "keys")
    out = tmp_path / "release"
    result = invoke(
        *release_args(registry.host, "--pytest-args", shlex.join(("-k", PLATFORM_TESTS)),
                      "--sign-key", str(private), "--no-tlog", pythons=("3.11",), platforms=platforms, out=out),
        docker_config=registry.docker_config, env={"COSIGN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # the index and both platform images; each platform image its own SBOM and provenance, the index both
    assert "signed 3 digests and attached 8 attestations" in result.stdout, result.stdout[-2000:]
    client = registry.client()
    tags = flavour_tags(matrix, matrix.get(VERSION), "3.11", "regular")
    assert len({client.head_manifest("airflow", t) for t in tags}) == 1
    for tag in tags:
        assert sorted(client.platforms("airflow", tag)) == list(platforms)
    for platform in platforms:
        labels = client.image_labels("airflow", tags[0], platform=platform)
        own = client.image_labels("airflow", f"{tags[0]}-{platform.rpartition('/')[2]}", platform=platform)
        assert labels[INPUTS_HASH_LABEL] == own[INPUTS_HASH_LABEL]
    # BuildKit's provenance (mode=max) rides along for each platform and names the base actually used
    index = client.get_manifest("airflow", tags[0]).data
    attestations = [m for m in index["manifests"]
                    if (m.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest"]
    assert len(attestations) == len(platforms)
    for attestation in attestations:
        layers = client.get_manifest("airflow", attestation["digest"]).data["layers"]
        statement = next(json.loads(client.blob("airflow", layer["digest"])) for layer in layers
                         if "provenance" in (layer.get("annotations") or {}).get("in-toto.io/predicate-type", ""))
        subject = attestation["annotations"]["vnd.docker.reference.digest"]
        image = next(m for m in index["manifests"] if m["digest"] == subject)
        platform = f"{image['platform']['os']}/{image['platform']['architecture']}"
        labels = client.image_labels("airflow", tags[0], platform=platform)
        base_name = labels["org.opencontainers.image.base.name"]
        # BuildKit (0.13, under Docker 26.1) names the base by the digest it resolved the base tag to —
        # for this multi-platform base, the index — with the platform in the material's URI; it names no
        # platform manifest. The label records that index's entry for the platform the image was built
        # for. So: exactly one material is the base, for this platform, at the digest of the index the
        # engine holds under the base's name, and the label is that very index's entry for the platform.
        base_index = read_local_index(SubprocessRunner(), base_name)
        assert base_index is not None and base_index["digest"] == _local_id(base_name)
        base_repository, _, base_tag = base_name.rpartition(":")
        uri = f"pkg:docker/{base_repository}@{base_tag}?platform={quote(platform, safe='')}"
        materials = statement["predicate"].get("materials", [])
        found = [m for m in materials if m.get("uri") == uri]
        assert len(found) == 1, (uri, materials)
        assert "sha256:" + found[0]["digest"]["sha256"] == base_index["digest"], materials
        assert platform_manifest_digest(base_index, platform) == labels["org.opencontainers.image.base.digest"]
    env = {**os.environ, "DOCKER_CONFIG": str(registry.docker_config)}
    ref = f"{registry.host}/airflow:{tags[0]}"
    machines = {}
    for platform in platforms:
        subprocess.run(["docker", "pull", "--quiet", "--platform", platform, ref], env=env, check=True,
                       capture_output=True)
        ran = subprocess.run(["docker", "run", "--rm", "--platform", platform, "--entrypoint", "uname", ref, "-m"],
                             env=env, capture_output=True, text=True, check=True)
        machines[platform] = ran.stdout.strip()
    assert machines == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
    verified = invoke("verify", ref, "--key", str(public), "--no-tlog", docker_config=registry.docker_config)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for platform in platforms:
        arch = platform.rpartition("/")[2]
        image = f"{registry.host}/airflow@{client.image_manifest('airflow', tags[0], platform=platform).digest}"
        statements = cosign("verify-attestation", "--key", str(public), "--insecure-ignore-tlog", "--type", "cyclonedx",
                            image, cwd=tmp_path, env={"DOCKER_CONFIG": str(registry.docker_config)})  # fmt: skip
        assert statements.returncode == 0, statements.stderr
        [sbom] = attested_predicates(statements.stdout)
        assert any(c.get("purl", "").startswith("pkg:deb/debian/libc6@") and f"arch={arch}" in c["purl"]
                   for c in sbom["components"]), f"the {platform} SBOM does not list its own libc6"  # fmt: skip
        # the attested SBOM is the one written next to the summary and pushed beside the image
        written = json.loads((out / VERSION / f"{tags[0]}-{arch}.cdx.json").read_text())
        assert sbom == written
        artifact = client.get_manifest("airflow", sbom_tag(image.rpartition("@")[2]))
        assert json.loads(client.blob("airflow", artifact.data["layers"][0]["digest"])) == written
    # a second release finds both platforms current under every tag and builds nothing
    again = invoke(*release_args(registry.host, pythons=("3.11",), platforms=platforms, out=out),
                   docker_config=registry.docker_config)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "buildx build" not in again.stdout + again.stderr
