"""Build parameters → the exact `docker buildx build` command line. Pure: no I/O here.

One frozen `BuildRequest` describes an image; `build_args` and `buildx_command` turn it into data
that the runner executes (and that unit tests compare against tables).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from .errors import InvalidBuildOption
from .overrides import Override, build_arg_value

VARIANTS = ("regular", "slim")
# Database client → the Dockerfile switch that installs it. msodbcsql is Microsoft's own ODBC driver,
# from Microsoft's repository that the user adds in docker-context-files/apt-sources/.
DATABASE_CLIENT_ARGS = {
    "postgres": "INSTALL_POSTGRES_CLIENT",
    "mysql": "INSTALL_MYSQL_CLIENT",
    "mssql": "INSTALL_MSSQL_CLIENT",
    "msodbcsql": "INSTALL_MSODBCSQL",
}
DATABASE_CLIENTS = tuple(DATABASE_CLIENT_ARGS)
# BuildKit secret ids the Dockerfile reads for private package indexes.
INDEX_SECRET_IDS = ("pip.conf", "uv.toml", "netrc")
_EXTRA = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_PLATFORM = re.compile(r"^linux/(amd64|arm64)$")
# The proxy CA and private-index credentials reach the build only as these BuildKit secrets.
CA_SECRET_ID = "cacert"
# AIRFLOW_BYTECODE: which .pyc the image keeps (image/scripts/prune_venv.py).
BYTECODE_MODES = ("startup", "all", "none")
# What the image's init needs: the ENTRYPOINT is dumb-init, so RUNTIME_APT_DEPS must keep it.
REQUIRED_RUNTIME_APT_DEPS = ("dumb-init",)
# Same words as image/check_inputs.py, which refuses the same values in a plain `docker build`.
REQUIREMENTS_ACCEPTED = (
    "expected PEP 508 requirements separated by spaces, e.g. name, name==1.2, name[extra]>=1,<2, name@URL"
)


def requirement_error(value: str) -> str | None:
    """None for one valid ADDITIONAL_PYTHON_DEPS entry, else the one line that refuses it."""
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        reason = (str(exc).strip().splitlines() or ["invalid"])[0]
    else:
        # the build splits ADDITIONAL_PYTHON_DEPS on whitespace: one requirement cannot contain any
        if not value or value.split() == [value]:
            return None
        reason = "it contains whitespace, which splits it into several entries"
    return f"ADDITIONAL_PYTHON_DEPS entry {value!r} is not a valid requirement ({reason}); {REQUIREMENTS_ACCEPTED}"


def check_requirements(values) -> tuple[str, ...]:
    """The values as a tuple, or InvalidBuildOption naming the first malformed one."""
    for value in values:
        error = requirement_error(value)
        if error is not None:
            raise InvalidBuildOption(error)
    return tuple(values)


@dataclass(frozen=True)
class BuildRequest:
    airflow_version: str
    python: str
    base_image: str
    tags: tuple[str, ...]
    extras: tuple[str, ...]
    variant: str = "regular"
    additional_extras: tuple[str, ...] = ()
    additional_python_deps: tuple[str, ...] = ()
    additional_dev_apt_deps: tuple[str, ...] = ()
    additional_runtime_apt_deps: tuple[str, ...] = ()
    constraints: str = "lock"
    base_image_digest: str = ""
    build_date: str = ""
    vcs_ref: str = ""
    source_url: str = ""
    platforms: tuple[str, ...] = ()
    network: str | None = None
    ca_bundle: Path | None = None
    secret_files: tuple[tuple[str, Path], ...] = ()
    airflow_uid: int | None = None
    airflow_home: str | None = None
    inputs_hash: str = ""
    security_overrides: tuple[Override, ...] = ()  # the ones in force for this build's lock
    no_cache: bool = False
    offline: bool = False
    db_clients: tuple[str, ...] | None = None  # None: the Dockerfile's defaults
    cache_salt: str = ""  # isolates the build's cache mounts (benchmarks); not part of the image
    target: str | None = None
    # BuildKit's SLSA provenance attestation ("mode=max" for releases: Dockerfile, build arguments,
    # base digests, source revision); "" leaves BuildKit's default. Needs the containerd image store.
    provenance: str = ""
    output: str = "load"  # load | push | local | none
    output_dir: Path | None = None
    # Build arguments the sessions leave at the Dockerfile's defaults; None (or "") passes none.
    uv_version: str = ""
    dev_apt_deps: tuple[str, ...] | None = None  # replaces DEV_APT_DEPS (ADDITIONAL_DEV_APT_DEPS adds)
    runtime_apt_deps: tuple[str, ...] | None = None  # replaces RUNTIME_APT_DEPS
    airflow_venv: str | None = None
    airflow_bytecode: str | None = None
    airflow_user_home_dir: str | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InvalidBuildOption(f"variant {self.variant!r} is not one of: {', '.join(VARIANTS)}")
        for extra in (*self.extras, *self.additional_extras):
            if not _EXTRA.match(extra):
                raise InvalidBuildOption(
                    f"extra {extra!r} is not a valid extra name (lowercase letters, digits, - . _)"
                )
        for platform in self.platforms:
            if not _PLATFORM.match(platform):
                raise InvalidBuildOption(f"platform {platform!r} is not one of: linux/amd64, linux/arm64")
        if self.output not in ("load", "push", "local", "none"):
            raise InvalidBuildOption(f"output {self.output!r} is not one of: load, push, local, none")
        if (self.output == "local") != (self.output_dir is not None):
            raise InvalidBuildOption("a local output needs an output directory, and only a local output takes one")
        if not self.tags and self.output in ("load", "push"):
            raise InvalidBuildOption("an image that is loaded or pushed needs at least one tag")
        for client in self.db_clients or ():
            if client not in DATABASE_CLIENTS:
                raise InvalidBuildOption(f"database client {client!r} is not one of: {', '.join(DATABASE_CLIENTS)}")
        accepted_secrets = (*INDEX_SECRET_IDS, CA_SECRET_ID)
        for secret_id, _ in self.secret_files:
            if secret_id not in accepted_secrets:
                raise InvalidBuildOption(
                    f"secret id {secret_id!r} is not one the Dockerfile reads: {', '.join(accepted_secrets)}"
                )
        if self.airflow_uid is not None and not 0 < self.airflow_uid < 2**31:
            raise InvalidBuildOption(f"AIRFLOW_UID {self.airflow_uid} is not a uid between 1 and 2147483647")
        check_requirements(self.additional_python_deps)
        if self.uv_version:
            try:
                Version(self.uv_version)
            except InvalidVersion:
                raise InvalidBuildOption(
                    f"UV_VERSION {self.uv_version!r} is not a version (a uv release such as 0.9.5)"
                ) from None
        if self.airflow_bytecode is not None and self.airflow_bytecode not in BYTECODE_MODES:
            raise InvalidBuildOption(
                f"AIRFLOW_BYTECODE={self.airflow_bytecode!r} is not one of: {', '.join(BYTECODE_MODES)}"
            )
        for name, path in (
            ("AIRFLOW_VENV", self.airflow_venv),
            ("AIRFLOW_HOME", self.airflow_home),
            ("AIRFLOW_USER_HOME_DIR", self.airflow_user_home_dir),
        ):
            if path is not None and not (path.startswith("/") and path != "/" and path.split() == [path]):
                raise InvalidBuildOption(f"{name} {path!r} is not an absolute path (other than /, without spaces)")
        if self.runtime_apt_deps is not None:
            missing = [p for p in REQUIRED_RUNTIME_APT_DEPS if p not in self.runtime_apt_deps]
            if missing:
                raise InvalidBuildOption(
                    f"RUNTIME_APT_DEPS {' '.join(self.runtime_apt_deps)!r} lacks {', '.join(missing)}, "
                    "the image's init (its ENTRYPOINT)"
                )


def build_args(request: BuildRequest) -> list[tuple[str, str]]:
    """The Dockerfile ARGs this request sets, in a stable order."""
    args: list[tuple[str, str]] = [
        ("PYTHON_BASE_IMAGE", request.base_image),
        ("AIRFLOW_PYTHON_VERSION", request.python),
        ("AIRFLOW_VERSION", request.airflow_version),
        ("AIRFLOW_EXTRAS", ",".join(request.extras)),
        ("AIRFLOW_VARIANT", request.variant),
        ("AIRFLOW_CONSTRAINTS", request.constraints),
    ]
    optional = [
        ("ADDITIONAL_AIRFLOW_EXTRAS", ",".join(request.additional_extras)),
        ("ADDITIONAL_PYTHON_DEPS", " ".join(request.additional_python_deps)),
        ("AIRFLOW_SECURITY_OVERRIDES", build_arg_value(request.security_overrides)),
        ("ADDITIONAL_DEV_APT_DEPS", " ".join(request.additional_dev_apt_deps)),
        ("ADDITIONAL_RUNTIME_APT_DEPS", " ".join(request.additional_runtime_apt_deps)),
        ("AIRFLOW_UID", "" if request.airflow_uid is None else str(request.airflow_uid)),
        ("AIRFLOW_HOME", request.airflow_home or ""),
        ("AIRFLOW_USER_HOME_DIR", request.airflow_user_home_dir or ""),
        ("AIRFLOW_VENV", request.airflow_venv or ""),
        ("AIRFLOW_BYTECODE", request.airflow_bytecode or ""),
        ("UV_VERSION", request.uv_version),
        ("BASE_IMAGE_DIGEST", request.base_image_digest),
        ("BUILD_DATE", request.build_date),
        ("VCS_REF", request.vcs_ref),
        ("SOURCE_URL", request.source_url),
        ("BUILD_INPUTS_HASH", request.inputs_hash),
        ("INSTALL_FROM_CONTEXT_FILES", "true" if request.offline else ""),
        ("CACHE_SALT", request.cache_salt),
    ]
    if request.db_clients is not None:
        optional += [(arg, str(c in request.db_clients).lower()) for c, arg in DATABASE_CLIENT_ARGS.items()]
    # passed even when empty: an empty DEV_APT_DEPS is a choice (a build that compiles nothing)
    replaced = [("DEV_APT_DEPS", request.dev_apt_deps), ("RUNTIME_APT_DEPS", request.runtime_apt_deps)]
    optional_even_empty = [(name, " ".join(value)) for name, value in replaced if value is not None]
    return args + [(k, v) for k, v in optional if v] + optional_even_empty


# New layers are written as gzip at level 1. Under the containerd image store BuildKit compresses every
# layer it exports, loaded or pushed: a 1.1 GB layer took 122 s to export and unpack at gzip's default
# level on a 2-core host, 39 s at level 1. It is still gzip, which every engine and registry reads; the
# blobs are ~10% larger. Layers that are already blobs (the base image's) are kept as they are.
LAYER_COMPRESSION = "compression=gzip,compression-level=1"


def buildx_command(request: BuildRequest, *, context: Path, dockerfile: Path | None = None) -> list[str]:
    argv = ["docker", "buildx", "build", "--progress=plain"]
    if dockerfile is not None:
        argv += ["--file", str(dockerfile)]
    if request.network:
        argv += ["--network", request.network]
    if request.platforms:
        argv += ["--platform", ",".join(request.platforms)]
    for name, value in build_args(request):
        argv += ["--build-arg", f"{name}={value}"]
    if request.ca_bundle is not None:
        argv += ["--secret", f"id={CA_SECRET_ID},src={request.ca_bundle}"]
    for secret_id, path in request.secret_files:
        argv += ["--secret", f"id={secret_id},src={path}"]
    if request.provenance:
        argv.append(f"--provenance={request.provenance}")
    if request.no_cache:
        argv.append("--no-cache")
    if request.target:
        argv += ["--target", request.target]
    for tag in request.tags:
        argv += ["--tag", tag]
    if request.output == "load":
        argv += ["--output", f"type=image,{LAYER_COMPRESSION}"]
    elif request.output == "push":
        argv += ["--output", f"type=image,push=true,{LAYER_COMPRESSION}"]
    elif request.output == "local":
        argv += ["--output", f"type=local,dest={request.output_dir}"]
    argv.append(str(context))
    return argv


def inputs_hash(*, build_arg_pairs: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> str:
    """Hash of everything that decides an image's content, except what changes every build.

    Rebuilds are not bit-identical (timestamps), so releases compare this instead of digests.
    """
    volatile = {"BUILD_DATE", "VCS_REF", "BUILD_INPUTS_HASH", "CACHE_SALT"}
    digest = hashlib.sha256()
    for name, value in sorted(p for p in build_arg_pairs if p[0] not in volatile):
        digest.update(f"arg {name}={value}\n".encode())
    for name, content in sorted(files):
        digest.update(f"file {name} {hashlib.sha256(content).hexdigest()}\n".encode())
    return "sha256:" + digest.hexdigest()
