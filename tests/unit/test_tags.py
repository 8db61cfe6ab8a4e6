from __future__ import annotations

import pytest

from airflow_image.errors import InvalidBuildOption
from airflow_image.tags import TagInputs, exact_tag, image_tags

RELEASED = ("1.10.6", "1.10.15", "2.10.4", "2.10.5", "3.2.0", "3.3.0", "3.3.1", "3.3.2", "3.3.2rc1", "3.4.0b2")
# State after 3.2.1 was released following 3.3.2 (a back-ported fix on an older line).
AFTER_321 = (*RELEASED, "3.2.1")


def case(version, python, *, default="3.12", variant="regular", main=False, released=RELEASED):
    return TagInputs(
        airflow_version=version,
        python=python,
        default_python=default,
        variant=variant,
        main_build=main,
        released_versions=released,
    )


CASES = [
    # newest release, default flavour: everything
    (
        "newest-default",
        case("3.3.2", "3.12"),
        ("3.3.2-python3.12", "3.3.2", "3.3-python3.12", "3.3", "latest-python3.12", "latest"),
    ),
    # newest release, other flavours: only the python-suffixed names
    ("newest-3.10", case("3.3.2", "3.10"), ("3.3.2-python3.10", "3.3-python3.10", "latest-python3.10")),
    ("newest-3.11", case("3.3.2", "3.11"), ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")),
    ("newest-3.13", case("3.3.2", "3.13"), ("3.3.2-python3.13", "3.3-python3.13", "latest-python3.13")),
    ("newest-3.14", case("3.3.2", "3.14"), ("3.3.2-python3.14", "3.3-python3.14", "latest-python3.14")),
    # an older patch of the newest line: exact only
    ("older-patch-same-line", case("3.3.1", "3.12"), ("3.3.1-python3.12", "3.3.1")),
    ("older-patch-same-line-3.11", case("3.3.1", "3.11"), ("3.3.1-python3.11",)),
    # 3.2.1 released after 3.3.2: moves 3.2 only, never latest
    (
        "backport-default",
        case("3.2.1", "3.12", released=AFTER_321),
        ("3.2.1-python3.12", "3.2.1", "3.2-python3.12", "3.2"),
    ),
    ("backport-3.11", case("3.2.1", "3.11", released=AFTER_321), ("3.2.1-python3.11", "3.2-python3.11")),
    (
        "backport-before-in-list",
        case("3.2.1", "3.12", released=RELEASED),
        ("3.2.1-python3.12", "3.2.1", "3.2-python3.12", "3.2"),
    ),
    ("superseded-line-head", case("3.2.0", "3.12", released=AFTER_321), ("3.2.0-python3.12", "3.2.0")),
    # 1.10.6 while 1.10.15 exists: exact tags only, default flavour of its time
    ("old-1.10.6-3.7", case("1.10.6", "3.7", default="3.7"), ("1.10.6-python3.7", "1.10.6")),
    ("old-1.10.6-2.7", case("1.10.6", "2.7", default="3.7"), ("1.10.6-python2.7",)),
    ("old-1.10.6-3.5", case("1.10.6", "3.5", default="3.7"), ("1.10.6-python3.5",)),
    (
        "old-line-head-1.10.15",
        case("1.10.15", "3.8", default="3.8"),
        ("1.10.15-python3.8", "1.10.15", "1.10-python3.8", "1.10"),
    ),
    ("old-line-head-2.10.5", case("2.10.5", "3.12"), ("2.10.5-python3.12", "2.10.5", "2.10-python3.12", "2.10")),
    ("old-line-not-head-2.10.4", case("2.10.4", "3.12"), ("2.10.4-python3.12", "2.10.4")),
    # pre-releases: exact tags only, even when newer than everything
    ("rc-default", case("3.3.2rc1", "3.12"), ("3.3.2rc1-python3.12", "3.3.2rc1")),
    ("rc-other", case("3.3.2rc1", "3.11"), ("3.3.2rc1-python3.11",)),
    ("beta-newest", case("3.4.0b2", "3.12"), ("3.4.0b2-python3.12", "3.4.0b2")),
    ("beta-other", case("3.4.0b2", "3.13"), ("3.4.0b2-python3.13",)),
    ("alpha", case("3.5.0a1", "3.12"), ("3.5.0a1-python3.12", "3.5.0a1")),
    ("dev", case("3.5.0.dev0", "3.12"), ("3.5.0.dev0-python3.12", "3.5.0.dev0")),
    # a first release of a new minor line (not yet in the released list) becomes latest
    (
        "new-minor",
        case("3.4.0", "3.12"),
        ("3.4.0-python3.12", "3.4.0", "3.4-python3.12", "3.4", "latest-python3.12", "latest"),
    ),
    (
        "new-major",
        case("4.0.0", "3.13", default="3.13"),
        ("4.0.0-python3.13", "4.0.0", "4.0-python3.13", "4.0", "latest-python3.13", "latest"),
    ),
    # re-releasing the newest (idempotent release) keeps every moving tag
    (
        "re-release",
        case("3.3.2", "3.12", released=(*RELEASED, "3.3.2")),
        ("3.3.2-python3.12", "3.3.2", "3.3-python3.12", "3.3", "latest-python3.12", "latest"),
    ),
    # main builds
    ("main-default", case("3.4.0.dev0", "3.12", main=True), ("main-python3.12", "main")),
    ("main-other", case("3.4.0.dev0", "3.13", main=True), ("main-python3.13",)),
    # slim variant: same rules, slim- prefix
    (
        "slim-newest-default",
        case("3.3.2", "3.12", variant="slim"),
        (
            "slim-3.3.2-python3.12",
            "slim-3.3.2",
            "slim-3.3-python3.12",
            "slim-3.3",
            "slim-latest-python3.12",
            "slim-latest",
        ),
    ),
    (
        "slim-newest-other",
        case("3.3.2", "3.11", variant="slim"),
        ("slim-3.3.2-python3.11", "slim-3.3-python3.11", "slim-latest-python3.11"),
    ),
    (
        "slim-backport",
        case("3.2.1", "3.12", variant="slim", released=AFTER_321),
        ("slim-3.2.1-python3.12", "slim-3.2.1", "slim-3.2-python3.12", "slim-3.2"),
    ),
    ("slim-rc", case("3.3.2rc1", "3.12", variant="slim"), ("slim-3.3.2rc1-python3.12", "slim-3.3.2rc1")),
    ("slim-old", case("1.10.6", "3.7", default="3.7", variant="slim"), ("slim-1.10.6-python3.7", "slim-1.10.6")),
    ("slim-main", case("3.4.0.dev0", "3.12", variant="slim", main=True), ("slim-main-python3.12", "slim-main")),
    ("slim-main-other", case("3.4.0.dev0", "3.11", variant="slim", main=True), ("slim-main-python3.11",)),
    # nothing released yet
    (
        "first-ever",
        case("1.0.0", "3.12", released=()),
        ("1.0.0-python3.12", "1.0.0", "1.0-python3.12", "1.0", "latest-python3.12", "latest"),
    ),
]


@pytest.mark.parametrize(("inputs", "tags"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_naming_convention(inputs, tags):
    assert image_tags(inputs) == tags


def test_table_is_large_enough():
    assert len(CASES) >= 30


def test_invalid_version_is_one_clear_error():
    with pytest.raises(InvalidBuildOption, match=r"'3\.x' is not a valid Airflow version"):
        image_tags(case("3.x", "3.12"))


@pytest.mark.parametrize(
    ("version", "python", "variant", "tag"),
    [
        ("3.3.2", "3.12", "regular", "3.3.2-python3.12"),
        ("3.3.2", "3.11", "slim", "slim-3.3.2-python3.11"),
        ("1.10.6", "2.7", "regular", "1.10.6-python2.7"),
    ],
)
def test_exact_tag(version, python, variant, tag):
    assert exact_tag(version, python, variant=variant) == tag
