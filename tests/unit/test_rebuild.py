"""Rebuilding stale images with a scripted engine and an in-memory registry: which flavours, which
tags move, the dated pin, and the release's order of work (pull, build all, test all, then push)."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from fake_sbom import is_sbom_command, sbom_answer

from airflow_image.base_check import BASE_DIGEST_LABEL, BASE_NAME_LABEL, CheckOptions, ImageStatus
from airflow_image.credentials import CredentialSources
from airflow_image.errors import BaseImagesUncheckable, ImageTestsFailed, RegistryUnreachable
from airflow_image.rebuild import RebuildOptions, dated_tag, is_main_tag, plan_rebuilds, rebuild_stale
from airflow_image.registry import DOCKER_MANIFEST, Manifest
from airflow_image.release_plan import Registry
from airflow_image.runner import Result

HOST = "127.0.0.1:5000"
BASE_HOST = "127.0.0.1:6000"
DAY = datetime.date(2026, 11, 25)


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


D1, D2 = digest("base-1"), digest("base-2")


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ((), "3.3.2-python3.11-20261125"),
        (("3.3.2-python3.11-20261124",), "3.3.2-python3.11-20261125"),
        (("3.3.2-python3.11-20261125",), "3.3.2-python3.11-20261125.2"),
        (("3.3.2-python3.11-20261125", "3.3.2-python3.11-20261125.2"), "3.3.2-python3.11-20261125.3"),
    ],
)
def test_dated_tag(existing, expected):
    assert dated_tag("3.3.2-python3.11", DAY, existing) == expected


def labels(python: str, built_from: str, *, version: str = "3.3.2") -> dict:
    return {
        "org.apache.airflow.version": version,
        "org.apache.airflow.python.version": python,
        "org.apache.airflow.variant": "regular",
        "org.apache.airflow.extras": "postgres",
        "org.apache.airflow.constraints": "lock",
        BASE_NAME_LABEL: f"{BASE_HOST}/python:{python}-slim",
        BASE_DIGEST_LABEL: built_from,
    }


def status(tag: str, image: str, python: str, *, current: str = D2, version: str = "3.3.2") -> ImageStatus:
    return ImageStatus(tag, digest(image), labels(python, D1, version=version), f"{BASE_HOST}/python:{python}-slim",
                       D1, current)


def test_plan_moves_the_conventions_tags_that_point_at_the_stale_image(matrix):
    statuses = [
        status("3.3.2-python3.11", "old-311", "3.11"),
        status("3.3-python3.11", "old-311", "3.11"),
        status("latest-python3.11", "old-311", "3.11"),
        status("3.3.2-python3.13", "old-313", "3.13", current=D1),  # current: not rebuilt
        status("3.3.1-python3.11", "older-311", "3.11", version="3.3.1"),
        # a main-branch build carries the version it was built from: only its tag says it is a main image
        status("main-python3.12", "main", "3.12"),
        status("9.9.9-python3.12", "unknown", "3.12", version="9.9.9"),
    ]
    rebuilds, skipped = plan_rebuilds(statuses, matrix, today=DAY, all_tags=("3.3.2-python3.11-20261125",))
    assert [(r.version, r.python, r.moving, r.dated) for r in rebuilds] == [
        ("3.3.2", "3.11", ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11"), "3.3.2-python3.11-20261125.2"),
        ("3.3.1", "3.11", ("3.3.1-python3.11",), "3.3.1-python3.11-20261125"),
    ]
    assert rebuilds[0].extras == ("postgres",) and rebuilds[0].constraints == "lock"
    assert rebuilds[0].base == f"{BASE_HOST}/python:3.11-slim" and rebuilds[0].old_digest == digest("old-311")
    assert skipped == [
        "main-python3.12: a main-branch image; not rebuilt here (the daily main-branch build rebuilds it)",
        "9.9.9-python3.12: apache-airflow 9.9.9 is not a release in the version matrix (invoke update-matrix if "
        "it was released since); not rebuilt",
    ]


@pytest.mark.parametrize("tag", ["main", "main-python3.12", "slim-main", "slim-main-python3.11"])
def test_main_images_are_told_apart_by_their_tag(tag):
    assert is_main_tag(tag)
    assert not is_main_tag("3.3.2-python3.12") and not is_main_tag("mainline") and not is_main_tag("latest")


def test_a_convention_tag_pointing_at_a_current_image_is_not_taken_over(matrix):
    statuses = [status("3.3.2-python3.11", "old", "3.11"), status("3.3-python3.11", "new", "3.11", current=D1)]
    rebuilds, _ = plan_rebuilds(statuses, matrix, today=DAY, all_tags=())
    assert rebuilds[0].moving == ("3.3.2-python3.11", "latest-python3.11")


def test_one_stale_platform_rebuilds_every_platform_of_the_index(matrix):
    """A multi-platform tag gives one status per platform; only arm64's base moved, yet the index is
    rebuilt whole (once), since one tag cannot mix old and new builds."""
    statuses = [
        replace(status(tag, "index-311", "3.11", current=current), platform=platform)
        for tag in ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")
        for platform, current in (("linux/amd64", D1), ("linux/arm64", D2))
    ]
    rebuilds, skipped = plan_rebuilds(statuses, matrix, today=DAY, all_tags=())
    assert skipped == []
    [rebuild] = rebuilds
    assert rebuild.platforms == ("linux/amd64", "linux/arm64")
    assert rebuild.moving == ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")
    assert rebuild.exact == "3.3.2-python3.11"


@dataclass
class FakeRegistries:
    """The release registry (tag → (digest, labels)) and the base registry (tag → digest)."""

    tags: dict[str, tuple[str, dict]] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)
    base_down: bool = False
    sboms: dict[str, dict] = field(default_factory=dict)  # subject digest → the SBOM pushed beside it
    blobs: dict[str, bytes] = field(default_factory=dict)

    def client(self, host, *, credentials=None):
        return self if host == HOST else BaseClient(self)

    def list_tags(self, repository):
        return tuple(sorted(self.tags))

    def head_manifest(self, repository, tag):
        return self.tags[tag][0] if tag in self.tags else None

    def image_labels(self, repository, tag, *, platform="linux/amd64"):
        return dict(self.tags[tag][1]) if tag in self.tags else None

    def platforms(self, repository, tag):
        return ("linux/amd64",) if tag in self.tags else ()

    def image_size(self, repository, tag):
        return 1000

    def get_manifest(self, repository, reference):
        found = next((d for d, _ in self.tags.values() if d == reference), None)
        return Manifest(found, DOCKER_MANIFEST, b"{}") if found else None

    def upload_blob(self, repository, data):
        self.blobs[digest := "sha256:" + hashlib.sha256(data).hexdigest()] = data
        return digest

    def put_manifest(self, repository, tag, manifest):
        body = json.loads(manifest.body)
        self.sboms[body["subject"]["digest"]] = json.loads(self.blobs[body["layers"][0]["digest"]])
        return manifest.digest


@dataclass
class BaseClient:
    registries: FakeRegistries

    def head_manifest(self, repository, tag):
        if self.registries.base_down:
            raise RegistryUnreachable(f"registry {BASE_HOST} is unreachable (connection refused)")
        return self.registries.bases.get(f"{repository}:{tag}")

    def get_manifest(self, repository, reference):
        return Manifest(self.head_manifest(repository, reference), DOCKER_MANIFEST, b"{}")


@dataclass
class FakeEngine:
    registries: FakeRegistries
    failing_python: str = ""
    dry_run: bool = False
    commands: list[list[str]] = field(default_factory=list)
    local: dict[str, dict] = field(default_factory=dict)

    def echo(self, line):
        pass

    def run(self, argv, *, read_only=False, **kwargs):
        argv = [str(a) for a in argv]
        self.commands.append(argv)
        ok = Result(tuple(argv), 0)
        if self.dry_run and not read_only:
            return ok
        if argv[:3] == ["docker", "image", "inspect"]:
            ref = argv[3]
            if ref.startswith(f"{BASE_HOST}/python:"):
                repo = ref.rsplit(":", 1)[0]
                found = {"Id": digest(ref), "RepoDigests": [f"{repo}@{self.registries.bases[ref.split('/', 1)[1]]}"]}
                return Result(tuple(argv), 0, json.dumps([found]))
            if ref in self.local:
                return Result(tuple(argv), 0, json.dumps([{"Id": digest(ref), "Config": {"Labels": self.local[ref]}}]))
            return Result(tuple(argv), 1)
        if argv[:2] == ["git", "-C"]:
            return Result(tuple(argv), 0, "c" * 40 + " 2026-11-25T00:00:00+00:00\n")
        if argv[:2] == ["docker", "pull"]:
            return ok
        if argv[:2] == ["docker", "version"]:
            return Result(tuple(argv), 0, "linux/amd64\n")
        if argv[:2] == ["docker", "save"]:  # the fake engine's bases are single-platform: no index to read
            return Result(tuple(argv), 1)
        if argv[:3] == ["docker", "buildx", "build"]:
            args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
            self.local[argv[argv.index("--tag") + 1]] = {
                "org.apache.airflow.python.version": args["AIRFLOW_PYTHON_VERSION"],
                BASE_NAME_LABEL: args["PYTHON_BASE_IMAGE"],
                BASE_DIGEST_LABEL: args["BASE_IMAGE_DIGEST"],
                "extras": args["AIRFLOW_EXTRAS"],
            }
            return ok
        if argv[1:4] == ["-m", "pytest", "tests/image"]:
            flavour = next(a.split("=", 1)[1] for a in argv if a.startswith("--python-flavour="))
            return Result(tuple(argv), 1 if flavour == self.failing_python else 0)
        if argv[:2] == ["docker", "tag"]:
            self.local[argv[3]] = self.local[argv[2]]
            return ok
        if argv[:2] == ["docker", "push"]:
            image_labels = self.local[argv[2]]
            pushed = digest(json.dumps(image_labels, sort_keys=True))
            self.registries.tags[argv[2].rsplit(":", 1)[1]] = (pushed, image_labels)
            return Result(tuple(argv), 0, f"x: digest: {pushed} size: 528\n")
        if is_sbom_command(argv):
            return sbom_answer(argv)
        raise AssertionError(f"unexpected command {argv}")

    def kinds(self, *, sbom=False) -> list[str]:
        names = {("docker", "pull"): "pull", ("docker", "buildx", "build"): "build", ("docker", "tag"): "tag",
                 ("docker", "push"): "push"}
        found = []
        for c in self.commands:
            found += [n for p, n in names.items() if tuple(c[: len(p)]) == p]
            if c[1:4] == ["-m", "pytest", "tests/image"]:
                found.append("test")
            if sbom and is_sbom_command(c) and "environment" in c:
                found.append("sbom")
        return found


def released() -> FakeRegistries:
    old311, old313 = labels("3.11", D1), labels("3.13", D1)
    tags = {f"{n}-python3.11": (digest("old-311"), old311) for n in ("3.3.2", "3.3", "latest")}
    tags |= {f"{n}-python3.13": (digest("old-313"), old313) for n in ("3.3.2", "3.3", "latest")}
    return FakeRegistries(tags=tags, bases={"python:3.11-slim": D2, "python:3.13-slim": D1})


def run(settings, matrix, registries, *, dry_run=False, failing_python="", out_dir=None):
    engine = FakeEngine(registries, failing_python=failing_python, dry_run=dry_run)
    options = RebuildOptions(
        check=CheckOptions(Registry(HOST), credentials=CredentialSources(docker_config=Path("/nonexistent"))),
        today=DAY,
        out_dir=out_dir,
    )
    lines: list[str] = []
    results = rebuild_stale(settings, matrix, options, runner=engine, client_factory=registries.client,
                            out=lines.append)
    return engine, results, lines


def test_rebuilds_the_stale_flavour_on_the_new_base_and_moves_its_tags(settings, matrix):
    registries = released()
    before_313 = {t: v for t, v in registries.tags.items() if t.endswith("3.13")}
    engine, results, lines = run(settings, matrix, registries)

    assert engine.kinds() == ["pull", "build", "test", "tag", "tag", "tag", "push", "push", "push", "push"]
    assert engine.commands[[c[:2] for c in engine.commands].index(["docker", "pull"])][-1] == (
        f"{BASE_HOST}/python:3.11-slim")
    moved = {t: registries.tags[t] for t in ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11",
                                              "3.3.2-python3.11-20261125")}
    assert len({d for d, _ in moved.values()}) == 1
    assert {lbl[BASE_DIGEST_LABEL] for _, lbl in moved.values()} == {D2}
    assert {lbl["extras"] for _, lbl in moved.values()} == {"postgres"}
    assert {t: v for t, v in registries.tags.items() if t.endswith("3.13")} == before_313
    assert {r.action for r in results} == {"rebuilt"} and len(results) == 4
    assert "rebuild summary (as read back from the registry):" in lines


def test_a_failing_image_test_pushes_nothing(settings, matrix):
    registries = released()
    before = dict(registries.tags)
    with pytest.raises(ImageTestsFailed, match=r"rebuilt 3\.3\.2-python3\.11; nothing was pushed"):
        run(settings, matrix, registries, failing_python="3.11")
    assert registries.tags == before


def test_dry_run_builds_and_pushes_nothing(settings, matrix):
    registries = released()
    before = dict(registries.tags)
    engine, results, lines = run(settings, matrix, registries, dry_run=True)
    assert results == () and engine.kinds() == [] and registries.tags == before
    assert f"  add  {HOST}/airflow:3.3.2-python3.11-20261125" in lines


def test_nothing_stale_does_nothing(settings, matrix):
    registries = released()
    registries.bases["python:3.11-slim"] = D1
    engine, results, lines = run(settings, matrix, registries)
    assert results == () and engine.kinds() == []
    assert lines[-1] == "nothing to rebuild: every released image is on its base's current digest"


def test_only_stale_main_images_are_named_and_left_to_the_daily_main_build(settings, matrix):
    registries = released()
    registries.bases["python:3.11-slim"] = D1
    # the main images of 3.12, built (from 3.3.2) on a base that has moved on since
    main = labels("3.12", D1)
    registries.tags |= {tag: (digest("main-312"), main) for tag in ("main-python3.12", "main")}
    registries.bases["python:3.12-slim"] = D2
    engine, results, lines = run(settings, matrix, registries)
    assert results == () and engine.kinds() == []
    assert lines[-1] == (
        "nothing to rebuild: every released image is on its base's current digest; the stale main image(s) main, "
        "main-python3.12 are rebuilt on the bases' current digests by the daily main-branch build, not by "
        "rebuild-stale (docs/security.md)")


def test_rebuild_generates_the_sbom_before_pushing_and_publishes_it(settings, matrix, tmp_path):
    registries = released()
    engine, _, lines = run(settings, matrix, registries, out_dir=tmp_path)
    # (the last pull: the old image, for the change report)
    assert engine.kinds(sbom=True) == ["pull", "build", "test", "sbom", "tag", "tag", "tag", *["push"] * 4, "pull"]
    dated = "3.3.2-python3.11-20261125"
    document = json.loads((tmp_path / f"{dated}.cdx.json").read_text())
    pushed = registries.tags[dated][0]
    assert document["metadata"]["component"]["version"] == pushed
    assert registries.sboms == {pushed: document}
    assert f"pushed the SBOM of {dated} ({pushed[:19]}) as {pushed.replace(':', '-')}.sbom" in lines


def test_a_base_registry_that_is_down_rebuilds_nothing(settings, matrix):
    registries = released()
    registries.base_down = True
    with pytest.raises(BaseImagesUncheckable, match=r"^6 image\(s\) could not be checked, so nothing was rebuilt"):
        run(settings, matrix, registries)
