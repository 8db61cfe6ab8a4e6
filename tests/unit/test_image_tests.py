from __future__ import annotations

import pytest

from airflow_image.image_tests import with_test_workers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ["-n", "2"]),
        (["-k", "labels"], ["-n", "2", "-k", "labels"]),
        (["-n", "0"], ["-n", "0"]),
        (["-n0", "-x"], ["-n0", "-x"]),
        (["--numprocesses=4"], ["--numprocesses=4"]),
        (["--numprocesses", "auto"], ["--numprocesses", "auto"]),
        # a -k expression that merely contains "-n" is not a choice of workers
        (["-k", "not -net"], ["-n", "2", "-k", "not -net"]),
    ],
)
def test_two_workers_unless_the_caller_chooses(given, expected):
    assert with_test_workers(given) == expected


def test_the_number_of_workers_is_a_keyword():
    assert with_test_workers(("-x",), workers=3) == ["-n", "3", "-x"]
