"""Registry credentials: from the environment, else the docker CLI's config and credential store.

Never from the command line (it lands in shell history and process lists) and never printed: the
password is left out of every repr, and the credential helper's answer is captured, not echoed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RegistryAuthError
from .runner import CommandRunner

ENV_USER = "AIRFLOW_IMAGE_REGISTRY_USER"
ENV_PASSWORD = "AIRFLOW_IMAGE_REGISTRY_PASSWORD"
# A credential helper answers with this user name when the secret is an identity token, not a password.
_IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages: "environment", "docker config", "helper NAME"


@dataclass(frozen=True)
class CredentialSources:
    """Where credentials may come from, read once at the entry point."""

    docker_config: Path
    environment: Credentials | None = None


def credential_sources(environ: Mapping[str, str], *, home: Path) -> CredentialSources:
    user, password = environ.get(ENV_USER), environ.get(ENV_PASSWORD)
    if bool(user) != bool(password):
        missing = ENV_PASSWORD if user else ENV_USER
        raise RegistryAuthError(f"{missing} is not set; set both {ENV_USER} and {ENV_PASSWORD}, or neither")
    config = Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else home / ".docker"
    env_credentials = Credentials(user, password, "environment") if user and password else None
    return CredentialSources(docker_config=config, environment=env_credentials)


def _host_of(key: str) -> str:
    """`https://host:5000/v1/` → `host:5000`: the docker CLI writes `auths` keys in both forms."""
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0]


def _read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RegistryAuthError(f"docker config {path} is not readable JSON ({type(exc).__name__})") from None
    return data if isinstance(data, dict) else {}


def _from_helper(helper: str, host: str, runner: CommandRunner) -> Credentials | None:
    result = runner.run(
        [f"docker-credential-{helper}", "get"], input=host, capture=True, check=False, quiet=True, read_only=True
    )
    if result.returncode != 0:
        return None
    try:
        answer = json.loads(result.stdout)
        user, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryAuthError(
            f"credential helper docker-credential-{helper} gave no usable answer for {host}"
        ) from None
    if not user or not secret or user == _IDENTITY_TOKEN_USER:
        return None
    return Credentials(user, secret, f"helper {helper}")


def _from_auth_entry(entry: dict, host: str, path: Path) -> Credentials | None:
    if entry.get("username") and entry.get("password"):
        return Credentials(entry["username"], entry["password"], "docker config")
    auth = entry.get("auth")
    if not auth:
        return None
    try:
        user, _, password = base64.b64decode(auth, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise RegistryAuthError(
            f"docker config {path}: the auth entry for {host} is not base64 user:password"
        ) from None
    return Credentials(user, password, "docker config") if user and password else None


def find_credentials(host: str, sources: CredentialSources, runner: CommandRunner) -> Credentials | None:
    """The environment wins; then the config's per-registry helper, its default store, its `auths`."""
    if sources.environment is not None:
        return sources.environment
    path = sources.docker_config / "config.json"
    config = _read_config(path)
    helpers = config.get("credHelpers") or {}
    for key, helper in helpers.items():
        if _host_of(key) == host:
            return _from_helper(helper, host, runner)
    if config.get("credsStore"):
        found = _from_helper(config["credsStore"], host, runner)
        if found is not None:
            return found
    for key, entry in (config.get("auths") or {}).items():
        if _host_of(key) == host and isinstance(entry, dict):
            found = _from_auth_entry(entry, host, path)
            if found is not None:
                return found
    return None
