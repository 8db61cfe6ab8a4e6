from __future__ import annotations

import time
from dataclasses import dataclass

import docker
import pytest


@dataclass(frozen=True)
class Ran:
    exit_code: int
    output: str
    seconds: float


@pytest.fixture(scope="session")
def client():
    return docker.from_env(timeout=300)


@pytest.fixture(scope="session")
def run_in(client):
    """Runs a command in a fresh container of an image; no network unless asked."""

    def _run(
        image: str, command=None, *, environment=None, user=None, network_mode="none", volumes=None, timeout: int = 240
    ) -> Ran:
        started = time.monotonic()
        # created, then started inside the try: a container that fails to start is removed too
        container = client.containers.create(
            image, command, environment=environment, user=user, network_mode=network_mode, volumes=volumes
        )
        try:
            container.start()
            status = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
        return Ran(status["StatusCode"], output, time.monotonic() - started)

    return _run
