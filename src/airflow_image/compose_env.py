"""The quick start's `.env`: the host user's uid and the secrets every Airflow container shares.

Secrets are made once, when the file is first written, and never again: the Fernet key encrypts
what is stored in the database volume and the JWT secret must be the same in every container, so
regenerating either would break a running installation. A key missing from an older file is
appended; an existing value is never touched.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidComposeOption

# The uid the image's files belong to (its org.apache.airflow.uid label); used when the host user is
# root, so that files the containers write to the bind-mounted folders are not owned by root.
IMAGE_UID = 50000
ADMIN_USERNAME = "admin"

ENV_HEADER = (
    "# generated once by `invoke compose`; never regenerated while this file exists. Keep it private",
    "# (git ignores it). It belongs to the database volume: the Fernet key and the passwords stored",
    "# there must match it, so delete it only together with the volume (`docker compose down -v`).",
)

# Compose interpolates these names into the generated file (`${NAME:?…}`).
UID_KEY = "AIRFLOW_UID"
ADMIN_USERNAME_KEY = "AIRFLOW_ADMIN_USERNAME"
ADMIN_PASSWORD_KEY = "AIRFLOW_ADMIN_PASSWORD"
POSTGRES_PASSWORD_KEY = "POSTGRES_PASSWORD"
FERNET_KEY_KEY = "AIRFLOW_FERNET_KEY"
JWT_SECRET_KEY = "AIRFLOW_JWT_SECRET"
API_SECRET_KEY = "AIRFLOW_API_SECRET_KEY"
SECRET_KEYS = (ADMIN_PASSWORD_KEY, POSTGRES_PASSWORD_KEY, FERNET_KEY_KEY, JWT_SECRET_KEY, API_SECRET_KEY)

TokenBytes = Callable[[int], bytes]


@dataclass(frozen=True)
class EnvFile:
    path: Path
    created: bool
    added: tuple[str, ...]  # keys appended to a file that already existed
    values: Mapping[str, str]


def airflow_uid_for(host_uid: int) -> int:
    """The uid the containers run as: the host user's own, so bind-mounted files stay theirs."""
    if host_uid < 0:
        raise InvalidComposeOption(f"host uid {host_uid} is not a uid (accepted: 0 or more)")
    return IMAGE_UID if host_uid == 0 else host_uid


def fresh_values(*, airflow_uid: int, token_bytes: TokenBytes = secrets.token_bytes) -> dict[str, str]:
    """A complete set of values; secrets come from `token_bytes` (a CSPRNG unless a test injects one)."""

    def text(n: int) -> str:
        # Hex only: passwords end up inside database URLs, where other characters need escaping.
        return token_bytes(n).hex()

    return {
        UID_KEY: str(airflow_uid),
        ADMIN_USERNAME_KEY: ADMIN_USERNAME,
        ADMIN_PASSWORD_KEY: text(12),
        POSTGRES_PASSWORD_KEY: text(16),
        # Fernet's key format: 32 random bytes, URL-safe base64 (what Fernet.generate_key() returns).
        FERNET_KEY_KEY: base64.urlsafe_b64encode(token_bytes(32)).decode(),
        JWT_SECRET_KEY: text(32),
        API_SECRET_KEY: text(32),
    }


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a compose `.env`; comments and blank lines are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        values[key.strip()] = value.strip()
    return values


def render_env(values: Mapping[str, str]) -> str:
    return "\n".join([*ENV_HEADER, *(f"{k}={v}" for k, v in values.items())]) + "\n"


def ensure_env_file(path: Path, *, airflow_uid: int, token_bytes: TokenBytes = secrets.token_bytes) -> EnvFile:
    """Writes `path` if it does not exist; otherwise appends only the keys it lacks."""
    fresh = fresh_values(airflow_uid=airflow_uid, token_bytes=token_bytes)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_env(fresh))
        path.chmod(0o600)
        return EnvFile(path, created=True, added=(), values=fresh)
    text = path.read_text()
    existing = parse_env(text)
    missing = {k: v for k, v in fresh.items() if k not in existing}
    if missing:
        separator = "" if not text or text.endswith("\n") else "\n"
        path.write_text(text + separator + "".join(f"{k}={v}\n" for k, v in missing.items()))
    return EnvFile(path, created=False, added=tuple(missing), values={**existing, **missing})
