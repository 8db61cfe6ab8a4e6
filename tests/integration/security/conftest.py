"""A local Distribution registry that hosts the base images as well as the released images, and
helpers to publish a base and a patched base under the same tag (the registry fixture is the release
tests' own)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_image.cli_options import ca_bundle_from
from airflow_image.engine import host_platform
from airflow_image.runner import SubprocessRunner
from tests.integration.release.conftest import LocalRegistry, free_port, registry  # noqa: F401

HOST_PLATFORM = host_platform(SubprocessRunner())
CA_BUNDLE = ca_bundle_from(None, os.environ)

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

    def patch(
        self, python: str, *, platforms: tuple[str, ...] = (), keep: tuple[str, ...] = (), security_updates: bool = True
    ) -> str:
        """A patched base under the same tag (for each of `platforms`, else the engine's own): the base
        with its Debian suite's security updates applied, from the security archive this host's own apt
        configuration names — a real Debian security upgrade, as the official bases get them. Without
        `security_updates`, a quick stand-in for one (minutes less under emulation): one file and the
        `base-files` entry's version in the dpkg database (`…+patch1`). The platforms in `keep` stay as they
        were in the index the tag names."""
        suite = STANDIN_BASES[python][0].rpartition("-")[2]
        if security_updates:
            step = (
                "RUN --mount=type=secret,id=cacert"
                " echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
                f" {security_archive()} {suite}-security main' >/etc/apt/sources.list.d/security.list"
                " && apt-get -o Acquire::https::CAInfo=/run/secrets/cacert update -qq"
                " && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::https::CAInfo=/run/secrets/cacert"
                " upgrade -y -qq >/dev/null"
                # the source stays, as in the official bases: the build's -dev packages must match the
                # upgraded libraries
                " && rm -rf /var/lib/apt/lists/*\n"
            )
        else:
            step = (
                "RUN echo patched > /etc/patch-level"
                " && sed -i '/^Package: base-files$/,/^$/ s/^Version: .*/&+patch1/' /var/lib/dpkg/status\n"
            )
        chosen = ["--platform", ",".join(platforms)] if platforms else []
        network = ["--network", "host", *(["--secret", f"id=cacert,src={CA_BUNDLE}"] if CA_BUNDLE else [])]
        target = f"{self.ref(python)}-patched" if keep else self.ref(python)
        docker("build", "--quiet", *(network if security_updates else ["--network", "none"]), *chosen,
               "--tag", target, "-", input=f"FROM {self.ref(python)}\n{step}",
               registry=self.registry)  # fmt: skip
        docker("push", "--quiet", target, registry=self.registry)
        if keep:
            # The index keeps the kept platforms' manifests byte for byte (their digests do not move),
            # as when Debian's updates reach one architecture's image before the other's.
            repository = self.ref(python).rpartition(":")[0]
            kept = [f"{repository}@{d}" for d in self.platform_digests(python, keep).values()]
            docker("buildx", "imagetools", "create", "--tag", self.ref(python), target, *kept, registry=self.registry)
        return self.digest(python)


def security_archive() -> str:
    """The Debian security archive's URI in this host's apt configuration (deb822 or one-line form)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] != "#")
            if "-security" in fields.get("Suites", "") and fields.get("URIs", "").strip():
                return fields["URIs"].split()[0]
    for path in (Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))):
        for words in (line.split() for line in (path.read_text().splitlines() if path.exists() else ())):
            uris = [w for w in words if "://" in w]
            if words and words[0] == "deb" and uris and any(w.endswith("-security") for w in words):
                return uris[0]
    pytest.fail("this host's apt configuration names no Debian security archive to patch a base from")


def _forget_test_digests(host: str) -> None:
    """A push leaves `HOST/python@digest` on the stand-in base. Other builds on this host record the
    stand-in's first RepoDigest as their base digest (else its id), so the test's are removed: only
    those references, never the image."""
    for standin, _ in STANDIN_BASES.values():
        listed = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{range .RepoDigests}}{{println .}}{{end}}", standin],
            capture_output=True,
            text=True,
            check=False,
        )
        refs = [r for r in listed.stdout.split() if r.startswith(f"{host}/")]
        if refs:
            subprocess.run(["docker", "image", "rm", *refs], capture_output=True, check=False)


@pytest.fixture
def bases(registry):  # noqa: F811
    yield Bases(registry)
    _forget_test_digests(registry.host)
