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
echo "missing=$(packages_not_installed libc6 no-such-package-xyz libssl3 | tr '\n' ' ')"
for platform in amd64 arm64 arm64/v8 arm/v7 ppc64le s390x 386; do
    arch=${platform%%/*} variant=$([[ $platform == */* ]] && echo "${platform#*/}" || true)
    echo "wheel-${platform}=$(manylinux_platform "$arch" "$variant")"
done
echo "wheel-mips64le=$( (manylinux_platform mips64le '') 2>&1 || true)"
# a package with a program, its docs, its copyright, a manual page and a translation
pkg=/tmp/pkg
mkdir -p $pkg/DEBIAN $pkg/usr/bin $pkg/usr/share/doc/demo $pkg/usr/share/man/man1 $pkg/usr/share/locale/de/LC_MESSAGES
printf 'Package: demo\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: d\n' >$pkg/DEBIAN/control
touch $pkg/usr/bin/demo $pkg/usr/share/doc/demo/README $pkg/usr/share/doc/demo/copyright \
    $pkg/usr/share/man/man1/demo.1 $pkg/usr/share/locale/de/LC_MESSAGES/demo.mo
dpkg-deb -b $pkg /tmp/demo.deb >/dev/null
keep_package_docs_out
dpkg -i /tmp/demo.deb >/dev/null
installed=$(cd $pkg && find usr -type f | sed 's|^|/|' | while read -r f; do [[ ! -f $f ]] || echo "$f"; done)
echo "installed=$(sort <<<"$installed" | tr '\n' ' ')"
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


def test_packages_not_installed_names_only_the_missing_ones(results):
    assert results["missing"].split() == ["no-such-package-xyz"]


@pytest.mark.parametrize(
    ("platform", "tag"),
    [
        ("amd64", "manylinux_2_17_x86_64"),
        ("arm64", "manylinux_2_17_aarch64"),
        ("arm64/v8", "manylinux_2_17_aarch64"),
        ("arm/v7", "manylinux_2_17_armv7l"),
        ("ppc64le", "manylinux_2_17_ppc64le"),
        ("s390x", "manylinux_2_17_s390x"),
        ("386", "manylinux_2_17_i686"),
    ],
)
def test_the_uv_wheel_for_each_docker_platform(results, platform, tag):
    assert results[f"wheel-{platform}"] == tag


def test_a_platform_without_wheels_is_named_in_one_line(results):
    assert results["wheel-mips64le"].startswith("ERROR: no uv wheel for platform mips64le;")


def test_only_the_program_and_its_copyright_of_a_package_are_installed(results):
    assert results["installed"].split() == ["/usr/bin/demo", "/usr/share/doc/demo/copyright"]
