from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, choose_base_image, plan_build
from airflow_image.engine import LocalImage, SourceInfo, base_digest, cached_index_reader, repository_of
from airflow_image.errors import InvalidBuildOption, MissingLock, UnknownVersion, UnsupportedPython
from airflow_image.params import buildx_command
from airflow_image.runner import Result

SOURCE = SourceInfo(revision="c" * 40, commit_time="2026-11-25T00:00:00+00:00")


def local(ref, *, digests=(), image_id="sha256:" + "1" * 64):
    return LocalImage(
        ref=ref, id=image_id, repo_digests=tuple(digests), labels={}, size=0, layers=0, architecture="amd64"
    )


def lookup_of(*present):
    images = {p.ref: p for p in present}
    return lambda ref: images.get(ref)


@pytest.mark.parametrize(
    ("present", "explicit", "chosen"),
    [
        ((), None, "python:3.11-slim-bookworm"),
        (
            ("python:3.11-slim-bookworm", "localhost/standin/python:3.11-slim-bookworm"),
            None,
            "python:3.11-slim-bookworm",
        ),
        (("localhost/standin/python:3.11-slim-bookworm",), None, "localhost/standin/python:3.11-slim-bookworm"),
        (("localhost/standin/python:3.11-slim-trixie",), None, "localhost/standin/python:3.11-slim-trixie"),
        (("python:3.11-slim-bookworm",), "my/base:1", "my/base:1"),
    ],
)
def test_base_image_choice(settings, present, explicit, chosen):
    ref, _ = choose_base_image(settings, "3.11", explicit=explicit, lookup=lookup_of(*(local(p) for p in present)))
    assert ref == chosen


@pytest.mark.parametrize(
    ("ref", "digests", "expected"),
    [
        ("python:3.12-slim", ("python@sha256:" + "a" * 64,), "sha256:" + "a" * 64),
        (
            "127.0.0.1:5000/py/python:3.12",
            ("other@sha256:" + "b" * 64, "127.0.0.1:5000/py/python@sha256:" + "c" * 64),
            "sha256:" + "c" * 64,
        ),
        ("localhost/standin/python:3.11-slim-bookworm", (), "sha256:" + "1" * 64),
        # pushed elsewhere since: still the id, so the inputs hash does not move
        (
            "localhost/standin/python:3.11-slim-bookworm",
            ("127.0.0.1:5000/python@sha256:" + "d" * 64,),
            "sha256:" + "1" * 64,
        ),
    ],
)
def test_base_digest(ref, digests, expected):
    assert base_digest(local(ref, digests=digests)) == expected


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        ("python:3.12", "python"),
        ("127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b"),
        ("a/b@sha256:00", "a/b"),
        ("localhost:5000/x", "localhost:5000/x"),
    ],
)
def test_repository_of(ref, repository):
    assert repository_of(ref) == repository


def test_plan_defaults(settings, matrix):
    standin = local("localhost/standin/python:3.11-slim-bookworm")
    request = plan_build(settings, matrix, BuildOptions(python="3.11"), lookup=lookup_of(standin), source=SOURCE)
    assert request.airflow_version == matrix.default_release().version
    assert request.extras == settings.default_extras
    assert request.tags == (f"airflow:{request.airflow_version}-python3.11",)
    assert request.base_image == standin.ref and request.base_image_digest == standin.id
    assert request.vcs_ref == SOURCE.revision and request.build_date == SOURCE.commit_time
    assert request.network == settings.build_network
    assert request.inputs_hash.startswith("sha256:")
    assert request.provenance == ""


def test_release_builds_ask_for_full_provenance(settings, matrix):
    """mode=max is what records the build arguments (source URL, revision) that `invoke verify` checks."""
    options = BuildOptions(python="3.11", provenance="mode=max")
    request = plan_build(settings, matrix, options, lookup=lookup_of(), source=SOURCE)
    assert request.provenance == "mode=max"
    assert "--provenance=mode=max" in buildx_command(request, context=settings.root)


def test_plan_default_python_comes_from_the_matrix(settings, matrix):
    request = plan_build(settings, matrix, BuildOptions(), lookup=lookup_of(), source=SOURCE)
    assert request.python == settings.default_python == matrix.default_release().default_python
    assert request.base_image == "python:3.12-slim-bookworm" and request.base_image_digest == ""


def test_plan_slim(settings, matrix):
    request = plan_build(
        settings, matrix, BuildOptions(python="3.12", variant="slim"), lookup=lookup_of(), source=SOURCE
    )
    assert request.extras == () and request.tags[0].endswith(":slim-3.3.2-python3.12")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (BuildOptions(airflow_version="9.9.9"), UnknownVersion, "'9.9.9' is not in the version matrix"),
        (BuildOptions(python="3.9"), UnsupportedPython, "does not support Python '3.9'"),
        (
            BuildOptions(airflow_version="2.10.5", python="3.12"),
            MissingLock,
            "no committed lock for apache-airflow 2.10.5",
        ),
        (
            BuildOptions(python="3.12", variant="slim", extras=("postgres",)),
            InvalidBuildOption,
            "slim variant has no extras",
        ),
    ],
)
def test_plan_refuses_bad_input_before_building(settings, matrix, options, error, message):
    with pytest.raises(error, match=message):
        plan_build(settings, matrix, options, lookup=lookup_of(), source=SOURCE)


def test_plan_without_lock_when_constraints_are_not_the_lock(settings, matrix):
    request = plan_build(
        settings,
        matrix,
        BuildOptions(airflow_version="2.10.5", python="3.12", constraints="none"),
        lookup=lookup_of(),
        source=SOURCE,
    )
    assert request.constraints == "none"


def test_inputs_hash_follows_content_not_commit(settings, matrix):
    a = plan_build(settings, matrix, BuildOptions(python="3.11"), lookup=lookup_of(), source=SOURCE)
    b = plan_build(
        settings,
        matrix,
        BuildOptions(python="3.11"),
        lookup=lookup_of(),
        source=SourceInfo("d" * 40, "2030-01-01T00:00:00+00:00"),
    )
    assert a.inputs_hash == b.inputs_hash  # the commit alone does not change what is in the image
    c = plan_build(
        settings, matrix, BuildOptions(python="3.11", extras=("postgres",)), lookup=lookup_of(), source=SOURCE
    )
    assert c.inputs_hash != a.inputs_hash


@dataclass
class SavingEngine:
    """`docker image inspect` and `docker save` of one multi-platform image; counts the saves."""

    index: dict
    saves: int = 0
    dry_run: bool = False

    def echo(self, line):
        pass

    def run(self, argv, **kwargs):
        if argv[:3] == ["docker", "image", "inspect"]:
            return Result(tuple(argv), 0, json.dumps([{"Id": self.index["digest"]}]))
        if argv[:2] == ["docker", "save"]:
            self.saves += 1
            archive = Path(argv[argv.index("--output") + 1])
            body = json.dumps({k: v for k, v in self.index.items() if k != "digest"}).encode()
            layout = json.dumps({"manifests": [{"digest": self.index["digest"]}]}).encode()
            with tarfile.open(archive, "w") as tar:
                for name, data in (("index.json", layout), ("blobs/" + self.index["digest"].replace(":", "/"), body)):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            return Result(tuple(argv), 0)
        raise AssertionError(f"unexpected command {argv}")


def test_a_stored_index_spares_later_builds_the_docker_save(tmp_path):
    index = {"digest": "sha256:" + "1" * 64, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}}]}
    engine = SavingEngine(index)
    first = cached_index_reader(engine, store=tmp_path)("base:1")
    second = cached_index_reader(engine, store=tmp_path)("base:1")  # a later build: a new reader
    assert first == second == index
    assert engine.saves == 1
    assert cached_index_reader(engine)("base:1") == index and engine.saves == 2  # without a store: saved again
