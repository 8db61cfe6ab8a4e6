"""The release plan as data: which flavours, which tags, what each tag's state means for the flavour."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_image.errors import InvalidBuildOption, UnsupportedPython
from airflow_image.release_plan import (
    BUILD,
    COPY,
    CURRENT,
    INPUTS_HASH_LABEL,
    MISSING,
    SKIP,
    STALE,
    FlavourPlan,
    Registry,
    TagState,
    copy_source,
    flavour_action,
    flavour_tags,
    parse_registry,
    parse_release_options,
    select_flavours,
    tag_state,
)


def plan_of(matrix, version, pythons=(), variants=("regular",)):
    release = matrix.get(version)
    return {
        (python, variant): flavour_tags(matrix, release, python, variant)
        for python, variant in select_flavours(release, pythons, variants)
    }


@pytest.mark.parametrize(
    ("version", "pythons", "variants", "expected"),
    [
        # 1.10.15 is newer on the 1.10 line: exact tags only, the bare one for 1.10.6's default flavour.
        (
            "1.10.6",
            (),
            ("regular",),
            {
                ("2.7", "regular"): ("1.10.6-python2.7",),
                ("3.5", "regular"): ("1.10.6-python3.5",),
                ("3.6", "regular"): ("1.10.6-python3.6",),
                ("3.7", "regular"): ("1.10.6-python3.7", "1.10.6"),
            },
        ),
        # A pre-release: exact tags only.
        (
            "3.4.0b2",
            ("3.11", "3.12"),
            ("regular",),
            {("3.11", "regular"): ("3.4.0b2-python3.11",), ("3.12", "regular"): ("3.4.0b2-python3.12", "3.4.0b2")},
        ),
        # The newest stable, narrowed to the two flavours with local bases: the default flavour's bare
        # names are not planned because that flavour is not released.
        (
            "3.3.2",
            ("3.13", "3.11"),
            ("regular",),
            {
                ("3.11", "regular"): ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11"),
                ("3.13", "regular"): ("3.3.2-python3.13", "3.3-python3.13", "latest-python3.13"),
            },
        ),
        (
            "3.3.2",
            ("3.12",),
            ("regular", "slim"),
            {
                ("3.12", "regular"): (
                    "3.3.2-python3.12",
                    "3.3.2",
                    "3.3-python3.12",
                    "3.3",
                    "latest-python3.12",
                    "latest",
                ),
                ("3.12", "slim"): (
                    "slim-3.3.2-python3.12",
                    "slim-3.3.2",
                    "slim-3.3-python3.12",
                    "slim-3.3",
                    "slim-latest-python3.12",
                    "slim-latest",
                ),
            },
        ),
        # An older patch of the newest line after the newer one: never `3.3` nor `latest`.
        ("3.3.1", ("3.11",), ("regular",), {("3.11", "regular"): ("3.3.1-python3.11",)}),
        # The head of an older line: its line tag, never `latest`.
        ("3.2.2", ("3.11",), ("regular",), {("3.11", "regular"): ("3.2.2-python3.11", "3.2-python3.11")}),
    ],
    ids=["1.10.6-all", "prerelease", "newest-narrowed", "default-flavour-both-variants", "older-patch", "older-line"],
)
def test_plan_tags(matrix, version, pythons, variants, expected):
    assert plan_of(matrix, version, pythons, variants) == expected


def test_every_flavour_of_the_version_by_default(matrix):
    assert [p for p, _ in plan_of(matrix, "3.3.2")] == ["3.10", "3.11", "3.12", "3.13", "3.14"]


def test_flavours_the_version_lacks_are_refused_not_skipped(matrix):
    with pytest.raises(UnsupportedPython, match=r"1.10.6 does not support Python '3.11'; supported: 2.7, 3.5"):
        plan_of(matrix, "1.10.6", ("3.7", "3.11"))
    with pytest.raises(InvalidBuildOption, match="variant 'tiny'"):
        plan_of(matrix, "3.3.2", (), ("tiny",))


@pytest.mark.parametrize(
    ("value", "registry", "ref"),
    [
        ("127.0.0.1:5000", Registry("127.0.0.1:5000"), "127.0.0.1:5000/airflow:3.3.2"),
        ("localhost/apache", Registry("localhost", "apache"), "localhost/apache/airflow:3.3.2"),
        ("registry.example.org/team/images/", Registry("registry.example.org", "team/images"), None),
    ],
)
def test_parse_registry(value, registry, ref):
    assert parse_registry(value) == registry
    if ref:
        assert registry.ref("airflow", "3.3.2") == ref


@pytest.mark.parametrize("value", ["", "apache", "apache/airflow", "Registry.example.org", "host:5000/a b"])
def test_parse_registry_refuses_what_is_not_a_registry(value):
    with pytest.raises(InvalidBuildOption, match="HOST\\[:PORT\\]\\[/NAMESPACE\\]"):
        parse_registry(value)


H, OTHER = "sha256:" + "1" * 64, "sha256:" + "2" * 64


@pytest.mark.parametrize(
    ("labels", "status"),
    [
        (None, MISSING),
        ({INPUTS_HASH_LABEL: H}, CURRENT),
        ({INPUTS_HASH_LABEL: OTHER}, STALE),
        ({}, STALE),  # an image not built by this tooling is replaced
    ],
)
def test_tag_state_compares_inputs_not_digests(labels, status):
    assert tag_state("t", {"linux/amd64": H}, {"linux/amd64": labels}, "sha256:d").status == status


@pytest.mark.parametrize(
    ("remote", "status"),
    [
        ({"linux/amd64": {INPUTS_HASH_LABEL: H}, "linux/arm64": {INPUTS_HASH_LABEL: OTHER}}, CURRENT),
        ({"linux/amd64": {INPUTS_HASH_LABEL: H}, "linux/arm64": None}, STALE),  # a platform missing
        ({"linux/amd64": {INPUTS_HASH_LABEL: H}, "linux/arm64": {INPUTS_HASH_LABEL: H}}, STALE),
        ({"linux/amd64": None, "linux/arm64": None}, MISSING),
    ],
)
def test_tag_state_wants_every_platform_with_its_own_inputs(remote, status):
    planned = {"linux/amd64": H, "linux/arm64": OTHER}
    assert tag_state("t", planned, remote, "sha256:d").status == status


@pytest.mark.parametrize(
    ("statuses", "action"),
    [
        ((CURRENT, CURRENT, CURRENT), SKIP),
        ((MISSING, MISSING, MISSING), BUILD),
        ((STALE, STALE, MISSING), BUILD),
        ((CURRENT, MISSING, MISSING), COPY),  # killed after the first push
        ((CURRENT, CURRENT, STALE), COPY),  # `latest` still on the previous release
        ((), BUILD),
    ],
)
def test_flavour_action(statuses, action):
    assert flavour_action(TagState(f"t{i}", s) for i, s in enumerate(statuses)) == action


def test_copies_come_from_the_exact_tag_when_it_is_current():
    states = (TagState("3.3.2-python3.11", CURRENT, "sha256:a"), TagState("3.3-python3.11", CURRENT, "sha256:b"))
    flavour = FlavourPlan("3.11", "regular", ("3.3.2-python3.11", "3.3-python3.11"), states=states)
    assert copy_source(flavour).digest == "sha256:a"
    flavour = FlavourPlan("3.11", "regular", flavour.tags, states=(TagState("3.3.2-python3.11", MISSING), states[1]))
    assert copy_source(flavour).digest == "sha256:b"


def test_release_options_from_the_command_line(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    environ = {"AIRFLOW_IMAGE_REGISTRY": "127.0.0.1:5000/apache", "SSL_CERT_FILE": str(bundle)}
    options = parse_release_options(
        version="3.3.2",
        registry=None,
        pythons=["3.11"],
        extras="",
        pytest_args="-k 'labels or version' -x",
        interpreter="py",
        environ=environ,
        home=Path("home"),
    )
    assert options.registry == Registry("127.0.0.1:5000", "apache")
    assert options.extras == () and options.variants == ("regular",) and options.pythons == ("3.11",)
    assert options.test_args == ("-k", "labels or version", "-x")
    assert options.ca_bundle == bundle
    assert options.credentials.docker_config == Path("home/.docker")
    explicit = parse_release_options(
        version=None, registry="localhost:1", extras="postgres, celery", interpreter="py", environ=environ, home=Path()
    )
    assert explicit.registry == Registry("localhost:1") and explicit.extras == ("postgres", "celery")
