"""A real Distribution registry on 127.0.0.1 per test: Debian's `docker-registry` binary with htpasswd
auth, a temporary storage root and a temporary docker config logged in to it (the user's own
~/.docker is never read or written)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from airflow_image.credentials import Credentials, CredentialSources
from airflow_image.registry import RegistryClient

USER = "releaser"


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


@pytest.fixture
def registry(tmp_path: Path):
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed; run `bash dev/setup-host.sh registry`")
    port = free_port()
    host = f"127.0.0.1:{port}"
    password = f"pw-{os.urandom(6).hex()}"
    (tmp_path / "htpasswd").write_text(_htpasswd_line(USER, password))
    (tmp_path / "storage").mkdir()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
        f"http:\n  addr: {host}\n  secret: {os.urandom(8).hex()}\n"
        f"auth:\n  htpasswd:\n    realm: release-tests\n    path: {tmp_path / 'htpasswd'}\n"
    )
    log = tmp_path / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://{host}/v2/", process, log)
        docker_config = tmp_path / "docker-config"
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
