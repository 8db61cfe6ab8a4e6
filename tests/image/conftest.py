"""Image tests: real containers from the image under test, through the docker SDK.

The image and what it is expected to be are given on the command line by the nox sessions
(`nox -s test_prod-3.12`), never guessed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import docker
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("image")
    group.addoption("--image", required=True, help="image reference to test")
    group.addoption("--airflow-version", required=True)
    group.addoption("--python-flavour", required=True)
    group.addoption("--extras", default="", help="comma-separated extras the image was built with")
    group.addoption("--variant", default="regular")
    group.addoption("--ca-bundle", default=None, help="CA bundle handed to the build as a secret")
    group.addoption("--platform", default="", help="platform under test (linux/arm64); default: the engine's own")


@dataclass(frozen=True)
class Expected:
    image: str
    airflow_version: str
    python: str
    extras: tuple[str, ...]
    variant: str
    ca_bundle: str | None
    platform: str


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    output: str


@pytest.fixture(scope="session")
def expected(request: pytest.FixtureRequest) -> Expected:
    opt = request.config.getoption
    return Expected(
        image=opt("--image"),
        airflow_version=opt("--airflow-version"),
        python=opt("--python-flavour"),
        extras=tuple(e for e in opt("--extras").split(",") if e),
        variant=opt("--variant"),
        ca_bundle=opt("--ca-bundle"),
        platform=opt("--platform") or _engine_platform(),
    )


def _engine_platform() -> str:
    version = docker.from_env().version()
    return f"{version['Os']}/{version['Arch']}"


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return docker.from_env(timeout=600)


@pytest.fixture(scope="session")
def image(client: docker.DockerClient, expected: Expected):
    return client.images.get(expected.image)


@pytest.fixture(scope="session")
def run(client: docker.DockerClient, expected: Expected):
    """Runs a command in a fresh container of the image; returns exit code and combined output."""

    def _run(
        *command: str,
        user: str | None = None,
        entrypoint: list[str] | None = None,
        environment: dict | None = None,
        timeout: int = 300,
    ) -> RunResult:
        # created, then started inside the try: a container that fails to start is removed too
        container = client.containers.create(
            expected.image,
            list(command) if command else None,
            platform=expected.platform,
            user=user,
            entrypoint=entrypoint,
            environment=environment,
            network_mode="none",
        )
        try:
            container.start()
            status = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
        return RunResult(exit_code=status["StatusCode"], output=output)

    return _run
