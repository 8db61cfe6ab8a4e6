"""Which released images are on an outdated base: reference parsing, like-with-like digest comparison
for multi-platform bases, one question per base, one line per image that cannot be checked."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_image.base_check import (
    BASE_DIGEST_LABEL,
    BASE_NAME_LABEL,
    EXIT_CURRENT,
    EXIT_PROBLEM,
    EXIT_STALE,
    BaseRef,
    CheckOptions,
    ImageStatus,
    check_base_images,
    current_base_digest,
    exit_code,
    format_status,
    is_checked_tag,
    parse_base,
    parse_check_options,
)
from airflow_image.credentials import Credentials, CredentialSources
from airflow_image.errors import InvalidBuildOption, RegistryError, RegistryUnreachable
from airflow_image.registry import DOCKER_MANIFEST, OCI_INDEX, Manifest
from airflow_image.release_plan import Registry


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


D1, D2, AMD1, AMD2, ARM1, ARM2 = (digest(t) for t in ("d1", "d2", "amd1", "amd2", "arm1", "arm2"))


@pytest.mark.parametrize(
    ("name", "default", "expected"),
    [
        ("127.0.0.1:5000/python:3.11-slim", None, BaseRef("127.0.0.1:5000", "python", "3.11-slim")),
        ("registry.example:5000/ns/python:3.11", None, BaseRef("registry.example:5000", "ns/python", "3.11")),
        ("localhost/standin/python:3.11-slim", None, BaseRef("localhost", "standin/python", "3.11-slim")),
        ("python:3.12-slim", "mirror.example", BaseRef("mirror.example", "library/python", "3.12-slim")),
        ("team/python:3.12", "mirror.example", BaseRef("mirror.example", "team/python", "3.12")),
        ("mirror.example/python", None, BaseRef("mirror.example", "python", "latest")),
        (f"mirror.example/python:3.12@{D1}", None, BaseRef("mirror.example", "python", "3.12")),
    ],
)
def test_parse_base(name, default, expected):
    assert parse_base(name, default_registry=default) == expected


def test_a_base_without_a_host_needs_a_default_registry():
    with pytest.raises(RegistryError, match=r"base 'python:3.12' names no registry host; pass --base-registry"):
        parse_base("python:3.12", default_registry=None)


@pytest.mark.parametrize(
    ("tag", "checked"),
    [("3.3.2-python3.11", True), ("latest", True), ("main-python3.12", True), ("3.3.2-python3.11-20261125", False),
     ("3.3.2-python3.11-20261125.2", False), ("slim-3.3.2-python3.11-20261125", False),
     (f"sha256-{'a' * 64}.sbom", False), (f"sha256-{'a' * 64}.sig", False),
     ("3.3.2-python3.11-arm64", False), ("3.3.2-python3.11-amd64", False)],
)
def test_dated_pins_are_not_rechecked(tag, checked):
    assert is_checked_tag(tag) is checked


def index(*entries: tuple[str, str]) -> Manifest:
    body = {"mediaType": OCI_INDEX, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "platform": {"os": "linux",
                                                                                             "architecture": a}}
        for a, d in entries]}
    data = json.dumps(body).encode()
    return Manifest("sha256:" + hashlib.sha256(data).hexdigest(), OCI_INDEX, data)


@dataclass
class FakeClient:
    """A registry by tag: repository:tag → Manifest; `down` answers every request with unreachable."""

    manifests: dict[str, Manifest] = field(default_factory=dict)
    labels: dict[str, dict] = field(default_factory=dict)  # release tags → labels
    multi: dict[str, dict[str, dict]] = field(default_factory=dict)  # multi-platform tags → platform → labels
    down: bool = False
    heads: list[str] = field(default_factory=list)

    def _up(self):
        if self.down:
            raise RegistryUnreachable("registry 127.0.0.1:9 is unreachable (connection refused)")

    def head_manifest(self, repository, reference):
        self._up()
        self.heads.append(f"{repository}:{reference}")
        if f"{repository}:{reference}" in self.manifests:
            return self.manifests[f"{repository}:{reference}"].digest
        return digest(json.dumps(self.labels[reference])) if reference in self.labels else None

    def get_manifest(self, repository, reference):
        self._up()
        return self.manifests.get(f"{repository}:{reference}")

    def list_tags(self, repository):
        self._up()
        return tuple(sorted(self.labels))

    def image_labels(self, repository, reference, *, platform="linux/amd64"):
        if reference in self.multi:
            return self.multi[reference].get(platform)
        return self.labels.get(reference)

    def platforms(self, repository, reference):
        return tuple(self.multi.get(reference, {"linux/amd64": None}))


def plain(d: str) -> Manifest:
    return Manifest(d, DOCKER_MANIFEST, b"{}")


@pytest.mark.parametrize(
    ("tag_points_at", "built_from", "expected"),
    [
        (plain(D1), D1, D1),  # unchanged
        (plain(D2), D1, D2),  # patched
        (index(("amd64", AMD1), ("arm64", ARM2)), AMD1, AMD1),  # index moved for arm64 only: amd64 current
        (index(("amd64", AMD2), ("arm64", ARM2)), AMD1, AMD2),  # the platform built on was patched
    ],
    ids=["same", "patched", "other-platform-only", "platform-patched"],
)
def test_current_digest_compares_like_with_like(tag_points_at, built_from, expected):
    client = FakeClient(manifests={"python:3.11": tag_points_at, f"python:{built_from}": plain(built_from)})
    assert current_base_digest(client, BaseRef("h:1", "python", "3.11"), built_from, architecture="amd64") == expected


def test_an_image_built_from_an_index_digest_is_compared_with_the_index():
    old, moved = index(("amd64", AMD1), ("arm64", ARM2)), index(("amd64", AMD2), ("arm64", ARM2))
    client = FakeClient(manifests={"python:3.11": moved, f"python:{old.digest}": old})
    assert current_base_digest(client, BaseRef("h:1", "python", "3.11"), old.digest, architecture="amd64") == (
        moved.digest
    )


def test_a_base_tag_that_is_gone_is_a_problem():
    with pytest.raises(RegistryError, match=r"base h:1/python:3.11 no longer exists"):
        current_base_digest(FakeClient(), BaseRef("h:1", "python", "3.11"), D1, architecture="amd64")


def labels(python: str, base: str, built_from: str) -> dict:
    return {"org.apache.airflow.version": "3.3.2", "org.apache.airflow.python.version": python,
            BASE_NAME_LABEL: base, BASE_DIGEST_LABEL: built_from}


RELEASE = "127.0.0.1:5000"
BASE_HOST = "127.0.0.1:6000"


def run_check(release: FakeClient, base: FakeClient) -> list[ImageStatus]:
    factory = lambda host, credentials=None: release if host == RELEASE else base  # noqa: E731
    return check_base_images(CheckOptions(Registry(RELEASE)), "airflow", runner=None, client_factory=factory)


def test_only_images_on_a_moved_base_are_stale_and_each_base_is_asked_once():
    base311, base313 = f"{BASE_HOST}/python:3.11-slim", f"{BASE_HOST}/python:3.13-slim"
    release = FakeClient(labels={
        "3.3.2-python3.11": labels("3.11", base311, D1),
        "3.3-python3.11": labels("3.11", base311, D1),
        "3.3.2-python3.13": labels("3.13", base313, AMD1),
        "3.3.2-python3.11-20261124": labels("3.11", base311, D1),
    })
    base = FakeClient(manifests={"python:3.11-slim": plain(D2), "python:3.13-slim": plain(AMD1)})
    statuses = run_check(release, base)
    assert {s.tag: s.stale for s in statuses} == {"3.3-python3.11": True, "3.3.2-python3.11": True,
                                                  "3.3.2-python3.13": False}
    assert sorted(base.heads) == ["python:3.11-slim", "python:3.13-slim"]
    assert exit_code(statuses) == EXIT_STALE
    table = format_status(statuses, Registry(RELEASE), "airflow")
    assert table[0].split() == ["image", "base", "built", "from", "current", "stale"]
    assert table[2].split() == [f"{RELEASE}/airflow:3.3-python3.11", base311, D1[7:19], D2[7:19], "yes"]


def test_each_platform_of_a_multi_platform_tag_is_checked_against_its_own_base_entry():
    base311 = f"{BASE_HOST}/python:3.11-slim"
    release = FakeClient(labels={"3.3.2-python3.11": {}}, multi={"3.3.2-python3.11": {
        "linux/amd64": labels("3.11", base311, AMD1),
        "linux/arm64": labels("3.11", base311, ARM1),
    }})
    base = FakeClient(manifests={"python:3.11-slim": index(("amd64", AMD1), ("arm64", ARM2)),
                                 f"python:{AMD1}": plain(AMD1), f"python:{ARM1}": plain(ARM1)})
    statuses = run_check(release, base)
    assert {s.platform: s.stale for s in statuses} == {"linux/amd64": False, "linux/arm64": True}
    assert {s.current for s in statuses} == {AMD1, ARM2}
    table = format_status(statuses, Registry(RELEASE), "airflow")
    assert f"{RELEASE}/airflow:3.3.2-python3.11 (linux/arm64)" in table[3] + table[2]


def test_a_base_registry_that_is_down_is_one_line_per_image():
    base311 = f"{BASE_HOST}/python:3.11-slim"
    release = FakeClient(labels={"3.3.2-python3.11": labels("3.11", base311, D1),
                                 "3.3-python3.11": labels("3.11", base311, D1),
                                 "3.3.2-python3.13": {"org.apache.airflow.version": "3.3.2"}})
    statuses = run_check(release, FakeClient(down=True))
    assert exit_code(statuses) == EXIT_PROBLEM
    assert not any(s.stale for s in statuses)
    problems = format_status(statuses, Registry(RELEASE), "airflow")[5:]
    assert problems == [
        f"{RELEASE}/airflow:3.3-python3.11: cannot check base {base311}: registry 127.0.0.1:9 is unreachable "
        "(connection refused)",
        f"{RELEASE}/airflow:3.3.2-python3.11: cannot check base {base311}: registry 127.0.0.1:9 is unreachable "
        "(connection refused)",
        f"{RELEASE}/airflow:3.3.2-python3.13: has no base name/digest labels; not built here",
    ]


def test_exit_code_when_all_current():
    assert exit_code([ImageStatus("t", D1, {}, "b", D1, D1)]) == EXIT_CURRENT


@pytest.mark.parametrize(
    ("registry", "base_registry", "environ", "expected"),
    [
        ("127.0.0.1:5000/team", None, {}, (Registry("127.0.0.1:5000", "team"), None)),
        (None, None, {"AIRFLOW_IMAGE_REGISTRY": "r.example", "AIRFLOW_IMAGE_BASE_REGISTRY": "m.example"},
         (Registry("r.example"), "m.example")),
        ("r.example", "b.example:443", {"AIRFLOW_IMAGE_BASE_REGISTRY": "m.example"},
         (Registry("r.example"), "b.example:443")),
    ],
)
def test_parse_check_options(registry, base_registry, environ, expected):
    options = parse_check_options(registry=registry, base_registry=base_registry, environ=environ, home=Path("/h"))
    assert (options.registry, options.default_base_registry) == expected
    assert options.credentials.docker_config == Path("/h/.docker")


@pytest.mark.parametrize(("registry", "base_registry"), [(None, None), ("r.example", "nohost")])
def test_parse_check_options_refuses(registry, base_registry):
    with pytest.raises(InvalidBuildOption):
        parse_check_options(registry=registry, base_registry=base_registry, environ={}, home=Path("/h"))


def test_release_credentials_from_the_environment_are_never_sent_to_a_base_registry(tmp_path):
    environment = Credentials("releaser", "secret", "environment")
    sources = CredentialSources(docker_config=tmp_path, environment=environment)
    seen: dict[str, object] = {}
    release = FakeClient(labels={"3.3.2-python3.11": labels("3.11", f"{BASE_HOST}/python:3.11-slim", D1),
                                 "3.3.2-python3.13": labels("3.13", f"{RELEASE}/python:3.13-slim", D1)})
    base = FakeClient(manifests={"python:3.11-slim": plain(D1), "python:3.13-slim": plain(D1)})

    def factory(host, credentials=None):
        seen[host] = credentials
        return release if host == RELEASE else base

    check_base_images(CheckOptions(Registry(RELEASE), credentials=sources), "airflow", runner=None,
                      client_factory=factory)
    assert seen == {RELEASE: environment, BASE_HOST: None}
