"""The release's order of work and its refusals, with a scripted engine (runner) and an in-memory
registry: what runs, in which order, and what the registry holds afterwards."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fake_sbom import is_sbom_command, sbom_answer

from airflow_image.credentials import Credentials, CredentialSources
from airflow_image.errors import (
    CommandFailed,
    ImageTestsFailed,
    RegistryAuthError,
    RegistryMismatch,
    RegistryUnreachable,
    ReleaseRefused,
    SbomError,
    UnknownVersion,
)
from airflow_image.push import push_image, push_images, tag_for_release
from airflow_image.registry import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest
from airflow_image.release import release
from airflow_image.release_plan import INPUTS_HASH_LABEL, Registry, ReleaseOptions
from airflow_image.runner import Result
from airflow_image.sbom import validate_sbom
from airflow_image.sbom_publish import sbom_tag
from airflow_image.signing import PROVENANCE_PREDICATE as PROVENANCE
from airflow_image.signing import Signer

HOST = "127.0.0.1:5000"
BASES = {
    "localhost/standin/python:3.11-slim-bookworm",
    "localhost/standin/python:3.13-slim-trixie",
    "localhost/standin/python:3.14-slim-forky",
}


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class FakeRegistry:
    """Tags → (digest, labels), as a Distribution registry would hold them."""

    tags: dict[str, tuple[str, dict]] = field(default_factory=dict)
    refuse: Exception | None = None
    lie_about: str = ""  # a tag whose HEAD answers another digest
    puts: list[str] = field(default_factory=list)

    def client(self, host, *, credentials=None):
        self.credentials = credentials
        return self

    def check_access(self, repository, *, push=False):
        if self.refuse:
            raise self.refuse

    def head_manifest(self, repository, tag):
        if tag == self.lie_about:
            return _digest("something else")
        return self.tags[tag][0] if tag in self.tags else None

    indexes: dict[str, dict[str, str]] = field(default_factory=dict)  # index digest → platform → image tag
    blobs: dict[str, bytes] = field(default_factory=dict)
    artifacts: dict[str, Manifest] = field(default_factory=dict)  # tag → an SBOM's artifact manifest
    # A pushed single-platform image answers as BuildKit pushes it: an index of the image and the
    # attestation manifest that holds its provenance.
    buildkit_index: bool = False

    def image_labels(self, repository, tag, *, platform="linux/amd64"):
        if tag not in self.tags:
            return None
        behind = self.indexes.get(self.tags[tag][0])
        if behind is not None:
            return dict(self.tags[behind[platform]][1]) if platform in behind else None
        return dict(self.tags[tag][1]) if platform == "linux/amd64" else None

    def platforms(self, repository, tag):
        if tag not in self.tags:
            return ()
        return tuple(self.indexes.get(self.tags[tag][0], {"linux/amd64": tag}))

    def image_size(self, repository, tag):
        return 1000

    def get_manifest(self, repository, reference):
        if self.buildkit_index:
            found = self._buildkit_manifest(reference)
            if found is not None:
                return found
        if reference in self.indexes:
            entries = [{"mediaType": OCI_MANIFEST, "digest": self.tags[tag][0],
                        "platform": dict(zip(("os", "architecture"), platform.split("/"), strict=True))}
                       for platform, tag in self.indexes[reference].items()]  # fmt: skip
            return Manifest(reference, OCI_INDEX, json.dumps({"manifests": entries}).encode())
        for digest, labels in self.tags.values():
            if reference == digest:
                return Manifest(digest, DOCKER_MANIFEST, json.dumps(labels).encode())
        return None

    def put_manifest(self, repository, tag, manifest):
        if b'"subject"' in manifest.body:  # an artifact beside an image, not an image
            self.artifacts[tag] = manifest
            return manifest.digest
        self.puts.append(tag)
        self.tags[tag] = (manifest.digest, json.loads(manifest.body))
        return manifest.digest

    def _buildkit_manifest(self, reference):
        for digest in {d for d, _ in self.tags.values()} - set(self.indexes):
            image, attestation = _digest(f"image {digest}"), _digest(f"attestation {digest}")
            if reference == digest:
                entries = [{"mediaType": OCI_MANIFEST, "digest": image,
                            "platform": {"os": "linux", "architecture": "amd64"}},
                           {"mediaType": OCI_MANIFEST, "digest": attestation,
                            "platform": {"os": "unknown", "architecture": "unknown"},
                            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                            "vnd.docker.reference.digest": image}}]  # fmt: skip
                return Manifest(digest, OCI_INDEX, json.dumps({"manifests": entries}).encode())
            if reference == image:
                return Manifest(image, OCI_MANIFEST, b'{"layers": []}')
            if reference == attestation:
                layer = {"digest": _digest("provenance"), "annotations": {"in-toto.io/predicate-type": PROVENANCE}}
                return Manifest(attestation, OCI_MANIFEST, json.dumps({"layers": [layer]}).encode())
        return None

    def blob(self, repository, digest):
        if digest == _digest("provenance"):
            return json.dumps({"predicate": {"buildType": "https://mobyproject.org/buildkit@v1"}}).encode()
        return self.blobs[digest]

    def upload_blob(self, repository, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest

    def sboms(self) -> dict[str, dict]:
        """subject digest → the SBOM pushed beside it."""
        found = {}
        for manifest in self.artifacts.values():
            found[manifest.data["subject"]["digest"]] = json.loads(self.blobs[manifest.data["layers"][0]["digest"]])
        return found


@dataclass
class FakeEngine:
    """Answers the docker, git and pytest commands a release runs, and pushes into a FakeRegistry."""

    registry: FakeRegistry
    failing_python: str = ""
    failing_sbom: bool = False
    dry_run: bool = False
    commands: list[list[str]] = field(default_factory=list)
    inputs: list[str | None] = field(default_factory=list)
    local: dict[str, dict] = field(default_factory=dict)  # ref → labels
    lines: list[str] = field(default_factory=list)
    attested: list[tuple[str, str, dict]] = field(default_factory=list)  # (ref, predicate type, predicate)

    def echo(self, line):
        self.lines.append(line)

    def run(self, argv, *, input=None, read_only=False, env=None, **kwargs):
        argv = [str(a) for a in argv]
        self.commands.append(argv)
        self.inputs.append(input)
        if self.dry_run and not read_only:
            return Result(tuple(argv), 0)
        if argv[:3] == ["docker", "image", "inspect"]:
            ref = argv[3]
            if ref in BASES:
                return Result(tuple(argv), 0, json.dumps([{"Id": _digest(ref), "Config": {"Labels": {}}}]))
            if ref in self.local:
                return Result(tuple(argv), 0, json.dumps([{"Id": _digest(ref), "Config": {"Labels": self.local[ref]}}]))
            return Result(tuple(argv), 1)
        if argv[:2] == ["git", "-C"]:
            return Result(tuple(argv), 0, "c" * 40 + " 2026-11-25T00:00:00+00:00\n")
        if argv[:3] == ["docker", "buildx", "build"]:
            args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
            labels = {
                INPUTS_HASH_LABEL: args["BUILD_INPUTS_HASH"],
                "org.apache.airflow.python.version": args["AIRFLOW_PYTHON_VERSION"],
            }
            self.local[argv[argv.index("--tag") + 1]] = labels
            return Result(tuple(argv), 0)
        if argv[:2] == ["docker", "tag"]:
            self.local[argv[3]] = self.local[argv[2]]
            return Result(tuple(argv), 0)
        if argv[:2] == ["docker", "push"]:
            labels = self.local[argv[2]]
            digest = _digest(json.dumps(labels, sort_keys=True))
            self.registry.tags[argv[2].rsplit(":", 1)[1]] = (digest, labels)
            return Result(tuple(argv), 0, f"{argv[2].rsplit(':', 1)[1]}: digest: {digest} size: 528\n")
        if argv[1:4] == ["-m", "pytest", "tests/image"]:
            flavour = next(a.split("=", 1)[1] for a in argv if a.startswith("--python-flavour="))
            return Result(tuple(argv), 1 if flavour == self.failing_python else 0)
        if argv[:4] == ["docker", "buildx", "imagetools", "inspect"]:
            return Result(tuple(argv), 1)
        if argv[:2] == ["docker", "version"]:
            return Result(tuple(argv), 0, "linux/amd64\n")
        if argv[:2] == ["docker", "save"]:  # the fake bases are single-platform images: no index
            return Result(tuple(argv), 1)
        if argv[:4] == ["docker", "buildx", "imagetools", "create"]:
            targets = [argv[i + 1].rsplit(":", 1)[1] for i, a in enumerate(argv) if a == "--tag"]
            sources = [a.rpartition("@")[2] for a in argv[4:] if "@" in a]
            by_digest = {d: t for t, (d, _) in self.registry.tags.items()}
            platforms = {f"linux/{by_digest[d].rsplit('-', 1)[1]}": by_digest[d] for d in sources}
            index = _digest(json.dumps(platforms, sort_keys=True))
            self.registry.indexes[index] = platforms
            for tag in targets:
                self.registry.tags[tag] = (index, {})
            return Result(tuple(argv), 0)
        if argv[:2] == ["docker", "login"]:
            return Result(tuple(argv), 0)
        if is_sbom_command(argv):
            return sbom_answer(argv, fail=self.failing_sbom)
        if argv[:2] == ["cosign", "attest"]:
            predicate = json.loads(Path(argv[argv.index("--predicate") + 1]).read_text())
            self.attested.append((argv[-1], argv[argv.index("--type") + 1], predicate))
            return Result(tuple(argv), 0)
        if argv[:2] in (["cosign", "public-key"], ["cosign", "sign"]):
            return Result(tuple(argv), 0)
        raise AssertionError(f"unexpected command {argv}")

    def ran(self, *prefix):
        return [c for c in self.commands if c[: len(prefix)] == list(prefix)]

    def kinds(self, *, sbom=False):
        """The side-effecting steps in order: build / test / tag / push (and with `sbom`, each SBOM's
        generator run)."""
        names = {("docker", "buildx", "build"): "build", ("docker", "tag"): "tag", ("docker", "push"): "push"}
        out = []
        for c in self.commands:
            for prefix, name in names.items():
                if tuple(c[: len(prefix)]) == prefix:
                    out.append(name)
            if c[1:4] == ["-m", "pytest", "tests/image"]:
                out.append("test")
            if sbom and is_sbom_command(c) and "environment" in c:
                out.append("sbom")
        return out


def options(**overrides) -> ReleaseOptions:
    base = dict(
        airflow_version="3.3.2",
        registry=Registry(HOST),
        pythons=("3.11", "3.13"),
        extras=("postgres",),
        interpreter="python3",
        credentials=CredentialSources(docker_config=Path("/nonexistent-docker-config")),
        platforms=("linux/amd64",),
    )
    return ReleaseOptions(**{**base, **overrides})


def run_release(settings, matrix, engine, fake, **overrides):
    lines: list[str] = []
    results = release(
        settings, matrix, options(**overrides), runner=engine, client_factory=fake.client, out=lines.append
    )
    return results, lines


NEWEST = {f"{n}-python{p}" for n in ("3.3.2", "3.3", "latest") for p in ("3.11", "3.13")}


def test_builds_all_then_tests_all_then_pushes_all(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    results, lines = run_release(settings, matrix, engine, registry)
    assert engine.kinds() == ["build", "build", "test", "test"] + ["tag", "tag", "push", "push", "push"] * 2
    assert set(registry.tags) == NEWEST
    assert {r.ref for r in results} == {f"{HOST}/airflow:{t}" for t in NEWEST}
    assert {r.action for r in results} == {"pushed"}
    assert all(r.digest == registry.tags[r.ref.rsplit(":", 1)[1]][0] for r in results)
    assert any(line.startswith("release plan: apache-airflow 3.3.2") for line in lines)


def test_second_run_builds_and_pushes_nothing(settings, matrix):
    registry = FakeRegistry()
    run_release(settings, matrix, FakeEngine(registry), registry)
    before = dict(registry.tags)
    again = FakeEngine(registry)
    results, _ = run_release(settings, matrix, again, registry)
    assert again.kinds() == []
    assert {r.action for r in results} == {"unchanged"} and registry.tags == before


def test_changed_inputs_rebuild(settings, matrix):
    registry = FakeRegistry()
    run_release(settings, matrix, FakeEngine(registry), registry)
    engine = FakeEngine(registry)
    run_release(settings, matrix, engine, registry, extras=("postgres", "celery"))
    assert engine.kinds().count("push") == 6


def test_one_failing_flavour_pushes_nothing(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry, failing_python="3.13")
    with pytest.raises(ImageTestsFailed, match=r"^image tests failed for Python 3.13 of apache-airflow 3.3.2; nothing"):
        run_release(settings, matrix, engine, registry)
    assert engine.kinds() == ["build", "build", "test", "test"]
    assert registry.tags == {}


def test_resumes_an_interrupted_release_by_pointing_tags_at_the_pushed_manifest(settings, matrix):
    registry = FakeRegistry()
    run_release(settings, matrix, FakeEngine(registry), registry, pythons=("3.11",))
    exact = registry.tags["3.3.2-python3.11"]
    registry.tags = {"3.3.2-python3.11": exact}  # killed after the first push
    engine = FakeEngine(registry)
    results, _ = run_release(settings, matrix, engine, registry, pythons=("3.11",))
    assert engine.kinds() == []
    assert registry.puts == ["3.3-python3.11", "latest-python3.11"]
    assert {t: d for t, (d, _) in registry.tags.items()} == {
        t: exact[0] for t in ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")
    }
    assert [r.action for r in results] == ["unchanged", "copied", "copied"]


def test_refuses_before_building_when_a_base_image_is_missing(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    with pytest.raises(ReleaseRefused) as caught:
        run_release(settings, matrix, engine, registry, pythons=())
    message = str(caught.value)
    assert "\n" not in message
    assert "Python 3.10: base image python:3.10-slim-bookworm is neither on this host" in message
    assert "Python 3.12: base image python:3.12-slim-bookworm" in message
    assert message.endswith("(release the others alone with --python 3.11 --python 3.13 --python 3.14)")
    assert engine.kinds() == [] and registry.tags == {}


@pytest.mark.parametrize(
    ("refuse", "expected"),
    [
        (RegistryUnreachable(f"registry {HOST} is unreachable (connection refused)"), "unreachable"),
        (RegistryAuthError(f"registry {HOST} rejected the credentials for user 'x' (from environment)"), "rejected"),
    ],
)
def test_registry_problems_refuse_before_building(settings, matrix, refuse, expected):
    registry = FakeRegistry(refuse=refuse)
    engine = FakeEngine(registry)
    with pytest.raises(ReleaseRefused, match=f"^cannot release apache-airflow 3.3.2: registry {HOST} .*{expected}"):
        run_release(settings, matrix, engine, registry)
    assert engine.kinds() == []


def test_unknown_version_refused_before_anything(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    with pytest.raises(UnknownVersion):
        run_release(settings, matrix, engine, registry, airflow_version="9.9.9")
    assert engine.commands == []


def test_missing_lock_refuses_unless_constraints_say_otherwise(settings, matrix):
    registry = FakeRegistry()
    with pytest.raises(ReleaseRefused, match=r"no committed lock for apache-airflow 3\.3\.1 on Python 3\.11"):
        run_release(settings, matrix, FakeEngine(registry), registry, airflow_version="3.3.1", pythons=("3.11",))
    results, _ = run_release(
        settings, matrix, FakeEngine(registry), registry, airflow_version="3.3.1", pythons=("3.11",), constraints="none"
    )
    assert [r.ref for r in results] == [f"{HOST}/airflow:3.3.1-python3.11"]


def test_an_older_patch_never_moves_latest(settings, matrix):
    registry = FakeRegistry()
    run_release(settings, matrix, FakeEngine(registry), registry, pythons=("3.11",))
    newest = dict(registry.tags)
    run_release(
        settings, matrix, FakeEngine(registry), registry, airflow_version="3.3.1", pythons=("3.11",), constraints="none"
    )
    assert {t: v for t, v in registry.tags.items() if t in newest} == newest
    assert set(registry.tags) == {*newest, "3.3.1-python3.11"}


def test_a_registry_answering_another_digest_fails_the_read_back(settings, matrix):
    registry = FakeRegistry(lie_about="latest-python3.11")
    with pytest.raises(
        RegistryMismatch, match=rf"^{re.escape(HOST)}/airflow:latest-python3.11 points at sha256:\w+ in"
    ):
        run_release(settings, matrix, FakeEngine(registry), registry, pythons=("3.11",))


def test_dry_run_plans_and_prints_but_changes_nothing(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry, dry_run=True)
    results, lines = run_release(settings, matrix, engine, registry)
    assert results == () and registry.tags == {}
    assert engine.kinds() == ["build", "build", "test", "test"] + ["tag", "tag", "push", "push", "push"] * 2
    assert sum(1 for line in lines if HOST in line and "missing" in line) == 6


def test_dry_run_reports_refusals_and_returns(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry, dry_run=True)
    results, lines = run_release(
        settings, matrix, engine, registry, airflow_version="1.10.6", pythons=(), registry=None
    )
    assert results == () and engine.kinds() == []
    refusal = lines.index("dry run: a release of apache-airflow 1.10.6 would refuse, before building anything:")
    assert lines[refusal + 1] == "  - no registry to release to; pass --registry HOST[:PORT][/NAMESPACE]"
    assert [line.split(":")[0] for line in lines[refusal + 2 :]] == [
        f"  - Python {p}" for p in ("2.7", "3.5", "3.6", "3.7")
    ]


def test_environment_credentials_log_in_to_a_throwaway_config(settings, matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    sources = CredentialSources(
        docker_config=Path("/user/.docker"), environment=Credentials("rm", "pw-1", "environment")
    )
    run_release(settings, matrix, engine, registry, pythons=("3.11",), credentials=sources)
    login = engine.ran("docker", "login")
    assert login == [["docker", "login", "--username", "rm", "--password-stdin", HOST]]
    assert engine.inputs[engine.commands.index(login[0])] == "pw-1"
    assert all("pw-1" not in " ".join(c) for c in engine.commands)
    assert registry.credentials.username == "rm"


def test_tag_gives_a_local_image_its_flavour_names(settings, matrix):
    engine = FakeEngine(FakeRegistry())
    engine.local["airflow:3.3.2-python3.13"] = {
        "org.apache.airflow.version": "3.3.2",
        "org.apache.airflow.python.version": "3.13",
        "org.apache.airflow.variant": "regular",
    }
    refs = tag_for_release(
        settings, matrix, image="airflow:3.3.2-python3.13", registry=Registry(HOST, "apache"), runner=engine
    )
    assert refs == tuple(
        f"{HOST}/apache/airflow:{t}" for t in ("3.3.2-python3.13", "3.3-python3.13", "latest-python3.13")
    )
    assert engine.ran("docker", "tag") == [["docker", "tag", "airflow:3.3.2-python3.13", r] for r in refs]
    with pytest.raises(ReleaseRefused, match="image airflow:nope is not on this host"):
        tag_for_release(settings, matrix, image="airflow:nope", registry=Registry(HOST), runner=engine)


def test_push_reads_every_ref_back(matrix):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    engine.local[f"{HOST}/airflow:x"] = {INPUTS_HASH_LABEL: "h"}
    results = push_images(
        (f"{HOST}/airflow:x",),
        credentials=CredentialSources(Path("/cfg")),
        runner=engine,
        client_factory=registry.client,
    )
    assert [(r.ref, r.digest, r.action) for r in results] == [(f"{HOST}/airflow:x", registry.tags["x"][0], "pushed")]


def test_a_multi_platform_release_pushes_each_platform_then_one_index_per_tag(settings, matrix):
    fake = FakeRegistry()
    engine = FakeEngine(fake)
    both = ("linux/amd64", "linux/arm64")
    results, _ = run_release(settings, matrix, engine, fake, pythons=("3.11",), platforms=both)
    builds = engine.ran("docker", "buildx", "build")
    assert sorted(b[b.index("--platform") + 1] for b in builds) == ["linux/amd64", "linux/arm64"]
    tests = [c for c in engine.commands if c[1:4] == ["-m", "pytest", "tests/image"]]
    tested = [next(a for a in c if a.startswith("--platform=")) for c in tests]
    assert sorted(tested) == ["--platform=linux/amd64", "--platform=linux/arm64"]
    kinds = engine.kinds()
    assert kinds.index("push") > max(i for i, k in enumerate(kinds) if k == "test")
    pushed = [c[2].rsplit(":", 1)[1] for c in engine.ran("docker", "push")]
    assert pushed == ["3.3.2-python3.11-amd64", "3.3.2-python3.11-arm64"]
    index_tags = {r.ref.rsplit(":", 1)[1] for r in results}
    assert index_tags == {f"{n}-python3.11" for n in ("3.3.2", "3.3", "latest")}
    for tag in index_tags:
        assert set(fake.platforms("airflow", tag)) == {"linux/amd64", "linux/arm64"}
    # a second run finds every platform current and builds nothing
    again = FakeEngine(fake)
    run_release(settings, matrix, again, fake, pythons=("3.11",), platforms=("linux/amd64", "linux/arm64"))
    assert again.ran("docker", "buildx", "build") == []


def test_a_tag_that_lacks_a_planned_platform_is_rebuilt(settings, matrix):
    fake = FakeRegistry()
    run_release(settings, matrix, FakeEngine(fake), fake, pythons=("3.11",))
    engine = FakeEngine(fake)
    run_release(settings, matrix, engine, fake, pythons=("3.11",), platforms=("linux/amd64", "linux/arm64"))
    assert len(engine.ran("docker", "buildx", "build")) == 2


def _purls(document: dict) -> list[str]:
    return [c.get("purl", "") for c in document["components"]]


def test_an_unsigned_release_generates_every_sbom_before_any_push_and_publishes_it(settings, matrix, tmp_path):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    results, lines = run_release(settings, matrix, engine, registry, out_dir=tmp_path)
    kinds = engine.kinds(sbom=True)
    assert kinds[:6] == ["build", "build", "test", "test", "sbom", "sbom"], kinds
    assert "sbom" not in kinds[6:] and kinds.count("push") == 6
    folder = tmp_path / "3.3.2"
    assert sorted(p.name for p in folder.iterdir()) == [
        "3.3.2-python3.11.cdx.json", "3.3.2-python3.13.cdx.json", "summary.txt"]
    pushed = registry.sboms()
    for python in ("3.11", "3.13"):
        digest = registry.tags[f"3.3.2-python{python}"][0]
        document = json.loads((folder / f"3.3.2-python{python}.cdx.json").read_text())
        validate_sbom(document)
        assert document["metadata"]["component"]["version"] == digest  # names the pushed image
        assert "pkg:pypi/apache-airflow@3.3.2" in _purls(document)
        assert any(p.startswith("pkg:deb/debian/libc6@") for p in _purls(document))
        assert pushed[digest] == document, "the SBOM beside the image is not the file"
        assert f"pushed the SBOM of 3.3.2-python{python} ({digest[:19]}) as {sbom_tag(digest)}" in lines
    summary = (folder / "summary.txt").read_text().splitlines()
    assert summary[0].startswith(f"release of apache-airflow 3.3.2 to {HOST}, ")
    assert summary[1] == "release summary (as read back from the registry):"
    assert all(any(r.ref in line and r.digest in line for line in summary) for r in results)
    assert f"wrote {folder / '3.3.2-python3.11.cdx.json'}" in summary
    assert summary[-1].startswith("not signed: ")
    assert lines[-1] == f"wrote {folder / 'summary.txt'}"


def test_an_sbom_that_cannot_be_generated_pushes_nothing(settings, matrix, tmp_path):
    registry = FakeRegistry()
    engine = FakeEngine(registry, failing_sbom=True)
    with pytest.raises(SbomError, match=r"^cyclonedx-py failed in a container of .*: RuntimeError: the generator"):
        run_release(settings, matrix, engine, registry, out_dir=tmp_path)
    assert "push" not in engine.kinds() and registry.tags == {} and registry.artifacts == {}
    assert not (tmp_path / "3.3.2").exists()


def test_a_signed_release_attests_the_sbom_it_wrote_and_pushed(settings, matrix, tmp_path):
    registry = FakeRegistry(buildkit_index=True)
    engine = FakeEngine(registry)
    _, lines = run_release(settings, matrix, engine, registry, pythons=("3.11",), out_dir=tmp_path,
                           signer=Signer("k.key", transparency_log=False))  # fmt: skip
    kinds = engine.kinds(sbom=True)
    assert kinds.index("sbom") < kinds.index("push")
    written = json.loads((tmp_path / "3.3.2" / "3.3.2-python3.11.cdx.json").read_text())
    image = _digest(f"image {registry.tags['3.3.2-python3.11'][0]}")
    assert written["metadata"]["component"]["version"] == image  # the platform image, not the index
    assert registry.sboms() == {image: written}
    attested = [predicate for _, kind, predicate in engine.attested if kind == "cyclonedx"]
    assert attested == [written, written]  # on the index and on the image: the same document
    assert any(line.startswith("signed 2 digests and attached 4 attestations") for line in lines)


def test_a_multi_platform_release_publishes_one_sbom_per_platform_image(settings, matrix, tmp_path):
    registry = FakeRegistry()
    engine = FakeEngine(registry)
    run_release(settings, matrix, engine, registry, pythons=("3.11",), out_dir=tmp_path,
                platforms=("linux/amd64", "linux/arm64"))  # fmt: skip
    pushed = registry.sboms()
    for arch in ("amd64", "arm64"):
        document = json.loads((tmp_path / "3.3.2" / f"3.3.2-python3.11-{arch}.cdx.json").read_text())
        digest = registry.tags[f"3.3.2-python3.11-{arch}"][0]
        assert document["metadata"]["component"]["version"] == digest
        assert [p for p in _purls(document) if "libc6" in p] == [
            f"pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch={arch}&distro=debian-12&upstream=glibc"]
        assert pushed[digest] == document
    assert len(pushed) == 2


def test_a_re_run_writes_a_new_summary_and_generates_no_sbom(settings, matrix, tmp_path):
    registry = FakeRegistry()
    run_release(settings, matrix, FakeEngine(registry), registry, pythons=("3.11",), out_dir=tmp_path)
    first = (tmp_path / "3.3.2" / "3.3.2-python3.11.cdx.json").read_text()
    again = FakeEngine(registry)
    run_release(settings, matrix, again, registry, pythons=("3.11",), out_dir=tmp_path)
    assert again.kinds(sbom=True) == []
    assert (tmp_path / "3.3.2" / "3.3.2-python3.11.cdx.json").read_text() == first
    summary = (tmp_path / "3.3.2" / "summary.txt").read_text()
    assert "3.3.2-python3.11: not built by this release, so no new SBOM" in summary


def test_a_dry_run_generates_no_sbom_and_writes_nothing(settings, matrix, tmp_path):
    registry = FakeRegistry()
    engine = FakeEngine(registry, dry_run=True)
    _, lines = run_release(settings, matrix, engine, registry, out_dir=tmp_path)
    assert not any(is_sbom_command(c) for c in engine.commands)
    assert "(dry run) generate the SBOM of each of the 2 image(s) built, before pushing anything" in lines
    assert list(tmp_path.iterdir()) == []


@dataclass
class PushAnswers:
    """`docker push` answering from a script: (exit code, stderr) per attempt."""

    answers: list[tuple[int, str]]
    dry_run: bool = False
    lines: list[str] = field(default_factory=list)
    pushes: int = 0

    def echo(self, line):
        self.lines.append(line)

    def run(self, argv, **kwargs):
        code, stderr = self.answers[self.pushes]
        self.pushes += 1
        return Result(tuple(argv), code, "latest: digest: sha256:" + "d" * 64 + " size: 1" if code == 0 else "", stderr)


@pytest.mark.parametrize(
    ("answers", "pushes", "error"),
    [
        ([(1, "unexpected status from HEAD request to http://r/v2/a/manifests/t: 500 Internal Server Error"),
          (0, "")], 2, None),
        ([(1, "received unexpected HTTP status: 503 Service Unavailable")] * 3, 3, "503 Service Unavailable"),
        ([(1, "denied: requested access to the resource is denied"), (0, "")], 1, "denied"),
    ],
)  # fmt: skip
def test_a_push_the_registry_failed_on_its_side_is_tried_again(answers, pushes, error):
    runner = PushAnswers(answers)
    if error is None:
        assert push_image(runner, "r:5000/a:t", env=None, pause=0) == "sha256:" + "d" * 64
    else:
        with pytest.raises(CommandFailed, match=error):
            push_image(runner, "r:5000/a:t", env=None, pause=0)
    assert runner.pushes == pushes
