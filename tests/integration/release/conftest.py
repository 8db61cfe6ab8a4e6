"""A real Distribution registry on 127.0.0.1 per test: Debian's `docker-registry` binary with htpasswd
auth, a temporary storage root and a temporary docker config logged in to it (the user's own
~/.docker is never read or written)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from airflow_image.credentials import Credentials, CredentialSources
from airflow_image.registry import RegistryClient

USER = "releaser"


# the password of the signing key pairs the tests generate (cosign reads $COSIGN_PASSWORD)
PASSWORD = "test-signing-password"


def cosign(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["cosign", *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, check=False, timeout=300)  # fmt: skip


def key_pair(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = cosign("generate-key-pair", cwd=folder, env={"COSIGN_PASSWORD": PASSWORD})
    assert made.returncode == 0, made.stderr
    return folder / "cosign.key", folder / "cosign.pub"


@dataclass(frozen=True)
class LocalRegistry:
    host: str
    password: str
    docker_config: Path

    @property
    def credentials(self) -> CredentialSources:
        return CredentialSources(docker_config=self.docker_config)

    def client(self) -> RegistryClient:
        return RegistryClient(self.host, credentials=Credentials(USER, self.password, "test"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _htpasswd_line(user: str, password: str) -> str:
    try:
        import bcrypt
    except ImportError:
        pytest.fail("the registry tests need the `bcrypt` package to write the registry's htpasswd file")
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}: {log.read_text()[-500:]}")
        try:
            if requests.get(url, timeout=1).status_code == 401:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"docker-registry did not answer on {url} within 15 s")


def _remove_local_refs(host: str) -> None:
    """Untags what the test tagged or pulled under this registry; image data other tags share stays.
    An image a rebuild left without its tag is listed as `<none>` and removed by id."""
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    targets = []
    for image_id, ref in (line.split(" ", 1) for line in listed.stdout.splitlines() if " " in line):
        if ref.startswith(f"{host}/"):
            targets.append(image_id if ref.endswith(":<none>") else ref)
    if targets:
        subprocess.run(["docker", "image", "rm", *targets], capture_output=True, check=False)


@contextmanager
def serve_registry(folder: Path) -> Iterator[LocalRegistry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed; run `bash dev/setup-host.sh registry`")
    port = free_port()
    host = f"127.0.0.1:{port}"
    password = f"pw-{os.urandom(6).hex()}"
    (folder / "htpasswd").write_text(_htpasswd_line(USER, password))
    (folder / "storage").mkdir()
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'storage'}\n"
        f"http:\n  addr: {host}\n  secret: {os.urandom(8).hex()}\n"
        f"auth:\n  htpasswd:\n    realm: release-tests\n    path: {folder / 'htpasswd'}\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://{host}/v2/", process, log)
        docker_config = folder / "docker-config"
        docker_config.mkdir()
        subprocess.run(
            ["docker", "login", "--username", USER, "--password-stdin", host],
            input=password,
            text=True,
            capture_output=True,
            check=True,
            env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
        )
        yield LocalRegistry(host=host, password=password, docker_config=docker_config)
    finally:
        process.terminate()
        process.wait(timeout=10)
        _remove_local_refs(host)
        # a registry's blobs are GBs: freed now, not when the run's temporary folders go
        shutil.rmtree(folder / "storage", ignore_errors=True)


@pytest.fixture
def registry(tmp_path: Path):
    with serve_registry(tmp_path) as served:
        yield served


@pytest.fixture(scope="module")
def registry_module(tmp_path_factory):
    """One registry for a module whose tests share one expensive setup (a signed release)."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as served:
        yield served
