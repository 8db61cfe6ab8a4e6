from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_image.credentials import (
    ENV_PASSWORD,
    ENV_USER,
    Credentials,
    CredentialSources,
    credential_sources,
    find_credentials,
)
from airflow_image.errors import RegistryAuthError
from airflow_image.runner import Result

HOST = "127.0.0.1:5000"


@dataclass
class HelperRunner:
    """Answers `docker-credential-NAME get` the way a credential helper does."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # helper name → {host: "user:secret"}
    calls: list[tuple[list[str], str | None]] = field(default_factory=list)
    dry_run: bool = False

    def echo(self, line: str) -> None:
        raise AssertionError(f"a credential look-up must print nothing, printed {line!r}")

    def run(self, argv, *, input=None, **kwargs):
        self.calls.append((list(argv), input))
        helper = argv[0].removeprefix("docker-credential-")
        found = self.secrets.get(helper, {}).get(input)
        if found is None:
            return Result(tuple(argv), 1, "", "credentials not found in native keychain")
        user, _, secret = found.partition(":")
        return Result(tuple(argv), 0, json.dumps({"ServerURL": input, "Username": user, "Secret": secret}))


def write_config(directory: Path, data: dict) -> CredentialSources:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(data))
    return CredentialSources(docker_config=directory)


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("environ", "config", "user"),
    [
        ({}, "home/.docker", None),
        ({"DOCKER_CONFIG": "/cfg"}, "/cfg", None),
        ({ENV_USER: "rm", ENV_PASSWORD: "pw"}, "home/.docker", "rm"),
    ],
)
def test_credential_sources_from_the_environment(environ, config, user):
    sources = credential_sources(environ, home=Path("home"))
    assert sources.docker_config == Path(config)
    assert (sources.environment.username if sources.environment else None) == user


@pytest.mark.parametrize("environ", [{ENV_USER: "rm"}, {ENV_PASSWORD: "pw"}])
def test_half_of_the_environment_credentials_is_an_error(environ):
    with pytest.raises(RegistryAuthError, match=f"set both {ENV_USER} and {ENV_PASSWORD}"):
        credential_sources(environ, home=Path("home"))


def test_password_never_in_repr():
    assert "pw-value" not in repr(Credentials("rm", "pw-value", "environment"))
    assert "pw-value" not in repr(credential_sources({ENV_USER: "rm", ENV_PASSWORD: "pw-value"}, home=Path("h")))


def test_environment_wins_over_the_docker_config(tmp_path):
    sources = write_config(tmp_path, {"auths": {HOST: {"auth": auth("cfg", "cfgpw")}}})
    env_first = CredentialSources(docker_config=tmp_path, environment=Credentials("env", "envpw", "environment"))
    assert find_credentials(HOST, env_first, HelperRunner()).username == "env"
    assert find_credentials(HOST, sources, HelperRunner()) == Credentials("cfg", "cfgpw", "docker config")


@pytest.mark.parametrize("key", [HOST, f"http://{HOST}", f"https://{HOST}/v1/"])
def test_auths_keys_in_every_form_the_cli_writes(tmp_path, key):
    sources = write_config(tmp_path, {"auths": {key: {"auth": auth("u", "p:with:colons")}}})
    found = find_credentials(HOST, sources, HelperRunner())
    assert (found.username, found.password) == ("u", "p:with:colons")


def test_other_registries_and_missing_config_give_none(tmp_path):
    sources = write_config(tmp_path / "a", {"auths": {"127.0.0.1:6000": {"auth": auth("u", "p")}}})
    assert find_credentials(HOST, sources, HelperRunner()) is None
    assert find_credentials(HOST, CredentialSources(docker_config=tmp_path / "none"), HelperRunner()) is None


def test_per_registry_helper_then_default_store(tmp_path):
    runner = HelperRunner(secrets={"pass": {HOST: "helper-user:helper-secret"}, "desktop": {"other:1": "x:y"}})
    sources = write_config(tmp_path, {"credHelpers": {HOST: "pass"}, "credsStore": "desktop"})
    assert find_credentials(HOST, sources, runner) == Credentials("helper-user", "helper-secret", "helper pass")
    # The secret travels on stdout only: the command line holds no host and no secret.
    assert runner.calls == [(["docker-credential-pass", "get"], HOST)]

    store_only = write_config(tmp_path / "b", {"credsStore": "desktop", "auths": {HOST: {"auth": auth("a", "b")}}})
    assert find_credentials(HOST, store_only, runner) == Credentials("a", "b", "docker config")


def test_identity_tokens_are_not_passwords(tmp_path):
    runner = HelperRunner(secrets={"desktop": {HOST: "<token>:opaque"}})
    sources = write_config(tmp_path, {"credsStore": "desktop"})
    assert find_credentials(HOST, sources, runner) is None


def test_broken_config_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RegistryAuthError, match=r"is not readable JSON \(JSONDecodeError\)"):
        find_credentials(HOST, CredentialSources(docker_config=tmp_path), HelperRunner())
    sources = write_config(tmp_path / "b", {"auths": {HOST: {"auth": "%%%"}}})
    with pytest.raises(RegistryAuthError, match="is not base64 user:password"):
        find_credentials(HOST, sources, HelperRunner())
