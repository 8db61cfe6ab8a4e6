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
