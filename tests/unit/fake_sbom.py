"""What an image answers to the commands its SBOM is generated with (`docker run … cat` of its
os-release and dpkg database, the CycloneDX generator on its interpreter), for the unit tests'
scripted engines: a tiny Debian (libc6 of the platform asked for) and Airflow itself."""

from __future__ import annotations

import json

from airflow_image.runner import Result

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
PYTHON_BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {"timestamp": "2026-11-25T05:00:00+00:00"},
    "components": [{"type": "library", "bom-ref": "apache-airflow==3.3.2", "name": "apache-airflow",
                    "version": "3.3.2", "purl": "pkg:pypi/apache-airflow@3.3.2"}],
    "dependencies": [{"ref": "apache-airflow==3.3.2"}],
}  # fmt: skip


def dpkg_status(arch: str) -> str:
    return (f"Package: libc6\nStatus: install ok installed\nArchitecture: {arch}\nSource: glibc\n"
            "Version: 2.36-9+deb12u10\n")  # fmt: skip


def is_sbom_command(argv: list[str]) -> bool:
    return argv[:2] == ["docker", "run"]


def sbom_answer(argv: list[str], *, fail: bool = False) -> Result:
    """The answer to one of the SBOM's `docker run` commands; `fail`: the generator exits 1."""
    platform = argv[argv.index("--platform") + 1] if "--platform" in argv else "linux/amd64"
    entrypoint = argv[argv.index("--entrypoint") + 1]
    if entrypoint == "cat":
        path = argv[-1]
        text = OS_RELEASE if path == "/etc/os-release" else dpkg_status(platform.rpartition("/")[2])
        return Result(tuple(argv), 0, text)
    if "environment" in argv:
        if fail:
            return Result(tuple(argv), 1, "", "Traceback …\nRuntimeError: the generator broke\n")
        return Result(tuple(argv), 0, json.dumps(PYTHON_BOM))
    raise AssertionError(f"unexpected docker run {argv}")
