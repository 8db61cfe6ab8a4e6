from __future__ import annotations

import json

import pytest

from airflow_image.errors import ConfigError, UnknownVersion, UnsupportedPython
from airflow_image.matrix import (
    GENERATED_HEADER,
    AirflowRelease,
    VersionMatrix,
    choose_default_python,
    flavours_from_metadata,
    matrix_from_json,
)

PY = "Programming Language :: Python :: "


@pytest.mark.parametrize(
    ("requires", "classifiers", "flavours"),
    [
        # 1.10.6: >=2.7 would allow 3.8+, but only 2.7, 3.5-3.7 were ever declared.
        (">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*", ["2.7", "3.5", "3.6", "3.7"], ("2.7", "3.5", "3.6", "3.7")),
        # a classifier that Requires-Python excludes is dropped
        (">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*", ["2.7", "3.4", "3.5"], ("2.7", "3.5")),
        ("!=3.15,>=3.10", ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"], ("3.10", "3.11", "3.12", "3.13", "3.14")),
        (None, ["2.7", "3.4"], ("2.7", "3.4")),  # 1.8.1: no Requires-Python at all
        ("~=3.6", ["3.6", "3.7", "3.8"], ("3.6", "3.7", "3.8")),
        (">=3.6.1", ["3.6", "3.7"], ("3.6", "3.7")),  # a patch floor keeps the flavour
        ("<3.13,>=3.8.1", ["3.8", "3.12", "3.13"], ("3.8", "3.12")),
        (">=3.9", ["3", "3 :: Only", "3.10"], ("3.10",)),  # only X.Y classifiers count
        (">=3.9", [], ()),
        ("not a specifier", ["3.11"], ("3.11",)),  # a broken specifier does not hide the classifiers
    ],
)
def test_flavours_come_from_classifiers_filtered_by_requires_python(requires, classifiers, flavours):
    assert flavours_from_metadata(requires, [PY + c for c in classifiers]) == flavours


@pytest.mark.parametrize(
    ("pythons", "preferred", "chosen"),
    [
        (("3.10", "3.11", "3.12", "3.13"), "3.12", "3.12"),
        (("2.7", "3.5", "3.6", "3.7"), "3.12", "3.7"),
        (("3.13", "3.14"), "3.12", "3.13"),
        (("3.9", "3.12"), "3.11", "3.9"),
    ],
)
def test_default_python(pythons, preferred, chosen):
    assert choose_default_python(pythons, preferred) == chosen


def _release(version, pythons=("3.11", "3.12"), *, yanked=False):
    return AirflowRelease(version, tuple(pythons), pythons[-1], ">=3.11", yanked, "2026-01-01")


@pytest.fixture
def small():
    return VersionMatrix(
        releases={
            r.version: r
            for r in [
                _release("3.2.1"),
                _release("3.3.2"),
                _release("3.3.3", yanked=True),
                _release("3.4.0b2"),
                _release("2.10.5"),
            ]
        }
    )


def test_newest_stable_skips_prereleases_and_yanked(small):
    assert small.newest_stable().version == "3.3.2"


def test_unknown_version_names_the_version_and_the_newest(small):
    with pytest.raises(UnknownVersion, match=r"'9\.9\.9' is not in the version matrix \(newest stable: 3\.3\.2"):
        small.get("9.9.9")


def test_version_lookup_normalises(small):
    assert small.get("3.4.0-b2").version == "3.4.0b2"


def test_unsupported_python_lists_what_is_supported(small):
    with pytest.raises(UnsupportedPython, match=r"3\.3\.2 does not support Python '3\.9'; supported: 3\.11, 3\.12"):
        small.check_python("3.3.2", "3.9")


def test_json_round_trip(small):
    text = small.to_json()
    assert json.loads(text)["comment"] == GENERATED_HEADER
    assert matrix_from_json(text) == small


def test_malformed_matrix_is_a_config_error():
    with pytest.raises(ConfigError, match="not a valid version matrix"):
        matrix_from_json('{"versions": {"1.0": {}}}')


def test_committed_matrix_answers_the_issue_examples(matrix):
    assert matrix.get("1.10.6").pythons == ("2.7", "3.5", "3.6", "3.7")
    assert matrix.get("3.3.2").pythons == ("3.10", "3.11", "3.12", "3.13", "3.14")
    assert matrix.default_release().version == matrix.newest_stable().version
    assert not matrix.default_release().is_prerelease
    assert len(matrix.releases) > 250


def test_committed_matrix_is_in_canonical_form(settings, matrix):
    assert settings.matrix_path.read_text() == matrix.to_json()
