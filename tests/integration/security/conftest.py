"""A local Distribution registry that hosts the base images as well as the released images, and
helpers to publish a base and a patched base under the same tag (the registry fixture is the release
tests' own)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import pytest

from airflow_image.engine import host_platform
from airflow_image.runner import SubprocessRunner
from tests.integration.release.conftest import LocalRegistry, free_port, registry  # noqa: F401

HOST_PLATFORM = host_platform(SubprocessRunner())

STANDIN_BASES = {
    "3.11": ("localhost/standin/python:3.11-slim-bookworm", "python:3.11-slim-bookworm"),
    "3.13": ("localhost/standin/python:3.13-slim-trixie", "python:3.13-slim-trixie"),
}


def docker(*args: str, registry: LocalRegistry, input: str | None = None) -> subprocess.CompletedProcess:  # noqa: F811
    env = {**os.environ, "DOCKER_CONFIG": str(registry.docker_config)}
    result = subprocess.run(["docker", *args], input=input, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        pytest.fail(f"docker {' '.join(args[:3])} failed: {result.stderr.strip()[-500:]}")
    return result


@dataclass(frozen=True)
class Bases:
    registry: LocalRegistry

    def ref(self, python: str) -> str:
        return f"{self.registry.host}/{STANDIN_BASES[python][1]}"

    def digest(self, python: str) -> str:
        """The digest a build's base label records: the host platform's image, which for a
        multi-platform base is an entry of the index the tag names."""
        repository, _, tag = STANDIN_BASES[python][1].partition(":")
        return self.registry.client().image_manifest(repository, tag, platform=HOST_PLATFORM).digest

    def publish(self, python: str) -> str:
        """The stand-in base, pushed to the local registry; the engine's copy then has its RepoDigest."""
        docker("tag", STANDIN_BASES[python][0], self.ref(python), registry=self.registry)
        docker("push", "--quiet", self.ref(python), registry=self.registry)
        return self.digest(python)

    def platform_digests(self, python: str, platforms: tuple[str, ...]) -> dict[str, str]:
        """platform → the digest of its image in the index the base tag names."""
        repository, _, tag = STANDIN_BASES[python][1].partition(":")
        client = self.registry.client()
        return {p: client.image_manifest(repository, tag, platform=p).digest for p in platforms}

    def patch(self, python: str, *, platforms: tuple[str, ...] = ()) -> str:
        """A patched base under the same tag (for each of `platforms`, else the engine's own). A Debian
        security upgrade replaces a package's files and its dpkg database entry; no package archive is
        reachable from a test, so one file and the `base-files` entry's version (`…+patch1`) stand in."""
        dockerfile = (
            f"FROM {self.ref(python)}\n"
            "RUN echo patched > /etc/patch-level"
            " && sed -i '/^Package: base-files$/,/^$/ s/^Version: .*/&+patch1/' /var/lib/dpkg/status\n"
        )
        chosen = ["--platform", ",".join(platforms)] if platforms else []
        docker("build", "--quiet", "--network", "none", *chosen, "--tag", self.ref(python), "-", input=dockerfile,
               registry=self.registry)  # fmt: skip
        docker("push", "--quiet", self.ref(python), registry=self.registry)
        return self.digest(python)


def _forget_test_digests(host: str) -> None:
    """A push leaves `HOST/python@digest` on the stand-in base. Other builds on this host record the
    stand-in's first RepoDigest as their base digest (else its id), so the test's are removed: only
    those references, never the image."""
    for standin, _ in STANDIN_BASES.values():
        listed = subprocess.run(["docker", "image", "inspect", "-f", "{{range .RepoDigests}}{{println .}}{{end}}",
                                 standin], capture_output=True, text=True, check=False)
        refs = [r for r in listed.stdout.split() if r.startswith(f"{host}/")]
        if refs:
            subprocess.run(["docker", "image", "rm", *refs], capture_output=True, check=False)


@pytest.fixture
def bases(registry):  # noqa: F811
    yield Bases(registry)
    _forget_test_digests(registry.host)
