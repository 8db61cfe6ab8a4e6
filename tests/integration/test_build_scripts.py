"""The build stage's shell helpers (image/scripts/common.sh), run in a real Debian base image.

packages_linked_by decides which Debian packages the runtime stage installs for the extensions an
image carries, including those ADDITIONAL_PYTHON_DEPS add: a library it misses is an import error at
run time, one it invents is an install failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/standin/python:3.11-slim-bookworm"

# Debian's own _ssl extension links libssl.so.3 and libcrypto.so.3 (package libssl3) and libc (libc6).
SCRIPT = r"""
set -euo pipefail
source /scripts/common.sh
ssl=$(python3 -c 'import _ssl; print(_ssl.__file__)')
libdir=$(dirname "$(ldd "$ssl" | awk '/libssl/ {print $3}')")  # as ldd names it, libc's folder too
echo "linked=$(printf '%s\0' "$ssl" | packages_linked_by /opt/airflow-venv | tr '\n' ' ')"
echo "own=$(printf '%s\0' "$ssl" | packages_linked_by "$libdir" | tr '\n' ' ')"
echo "none=$(printf '' | packages_linked_by /opt/airflow-venv | tr '\n' ' ')"
echo "venv=$(mkdir -p /v && cp "$ssl" /v/x.so && runtime_packages_for /v | tr '\n' ' ')"
"""


@pytest.fixture(scope="module")
def results() -> dict[str, str]:
    ran = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{ROOT / 'image' / 'scripts'}:/scripts:ro",
         "--entrypoint", "bash", BASE, "-c", SCRIPT],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return dict(line.split("=", 1) for line in ran.stdout.splitlines() if "=" in line)


def test_a_linked_system_library_names_its_debian_package(results):
    assert results["linked"].split() == ["libc6", "libssl3"]


def test_libraries_the_environment_ships_itself_are_left_out(results):
    assert results["own"].split() == []


def test_no_shared_objects_need_no_packages(results):
    assert results["none"] == ""


def test_a_whole_environment_is_scanned_the_same_way(results):
    assert results["venv"].split() == ["libc6", "libssl3"]
