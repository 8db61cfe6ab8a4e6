"""The arguments of the image test suite (tests/image), shared by the nox sessions, the release and
the security rebuild, so that every caller checks an image against the same contract."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def image_test_args(
    *,
    image: str,
    airflow_version: str,
    python: str,
    extras: Sequence[str],
    variant: str,
    ca_bundle: Path | None,
    platform: str = "",
) -> list[str]:
    """pytest's arguments, after the interpreter/`pytest` itself; callers append their own selection."""
    return [
        "tests/image",
        "-p",
        "no:cacheprovider",
        f"--image={image}",
        f"--airflow-version={airflow_version}",
        f"--python-flavour={python}",
        f"--extras={','.join(extras)}",
        f"--variant={variant}",
        *([f"--ca-bundle={ca_bundle}"] if ca_bundle else []),
        *([f"--platform={platform}"] if platform else []),
    ]


# Two pytest-xdist workers: a 2-core CI host runs one test's container (or build) while the other
# test waits on its own, where one process left a core idle.
TEST_WORKERS = 2


def with_test_workers(pytest_args: Sequence[str], *, workers: int = TEST_WORKERS) -> list[str]:
    """pytest_args with `-n workers` in front, unless they choose their own number (`-n 0`: one process)."""
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in pytest_args)
    return list(pytest_args) if chosen else ["-n", str(workers), *pytest_args]
