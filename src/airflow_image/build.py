"""From what a user asks for to a built image: resolve the version, flavour, base image and
locks, describe the build as a `BuildRequest`, then run it through the runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .engine import (
    LocalImage,
    SourceInfo,
    cached_index_reader,
    host_platform,
    inspect_image,
    platform_base_digest,
    source_info,
)
from .errors import BaseImageUnavailable, InvalidBuildOption
from .locks import existing_lock, platform_locks
from .matrix import VersionMatrix
from .overrides import OVERRIDES_FILE, LockPins, Override, overrides_in_force, read_overrides
from .params import BuildRequest, build_args, buildx_command, inputs_hash
from .runner import CommandRunner
from .settings import ProjectSettings
from .tags import exact_tag


@dataclass(frozen=True)
class BuildOptions:
    """What a user asks for; None means "the project's default"."""

    airflow_version: str | None = None
    python: str | None = None
    variant: str = "regular"
    extras: tuple[str, ...] | None = None
    additional_extras: tuple[str, ...] = ()
    additional_python_deps: tuple[str, ...] = ()
    additional_dev_apt_deps: tuple[str, ...] = ()
    additional_runtime_apt_deps: tuple[str, ...] = ()
    constraints: str = "lock"
    base_image: str | None = None
    tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    secret_files: tuple[tuple[str, Path], ...] = ()
    airflow_uid: int | None = None
    airflow_home: str | None = None
    no_cache: bool = False
    offline: bool = False
    db_clients: tuple[str, ...] | None = None
    cache_salt: str = ""
    context: Path | None = None  # default: the repository root
    output: str = "load"
    provenance: str = ""
    security_overrides: Path | None = None  # default: the committed security-overrides.toml


# The Dockerfile target that holds what an air-gapped build needs (see the Dockerfile's last stages).
CONTEXT_FILES_TARGET = "docker-context-files"


def choose_base_image(
    settings: ProjectSettings, python: str, *, explicit: str | None, lookup: Callable[[str], LocalImage | None]
) -> tuple[str, LocalImage | None]:
    """An explicit base wins; else the official image if present, else a local stand-in, else the
    official name (the engine pulls it where a registry is reachable)."""
    if explicit:
        return explicit, lookup(explicit)
    official = settings.base_image(python)
    for candidate in (official, *settings.standin_base_images(python)):
        found = lookup(candidate)
        if found is not None:
            return candidate, found
    return official, None


def context_of(settings: ProjectSettings, options: BuildOptions) -> Path:
    return options.context or settings.root


def context_files(context: Path, constraints_files: tuple[Path, ...]) -> list[tuple[str, bytes]]:
    """Every file of the build context that decides the image's content."""
    paths = [
        context / "Dockerfile",
        *sorted((context / "image").rglob("*")),
        *sorted((context / "docker-context-files").rglob("*")),
        *constraints_files,
    ]
    return [(str(p.relative_to(context)), p.read_bytes()) for p in paths if p.is_file()]


def security_overrides_for(
    settings: ProjectSettings, options: BuildOptions, *, airflow_version: str, python: str,
    constraints_files: tuple[Path, ...],
) -> tuple[Override, ...]:
    """The overrides in force for this build, checked against the constraints it installs from where
    those are readable here (the locks, a file in docker-context-files/; not none, not a URL)."""
    # A missing committed file is an error, not "no overrides": losing it must not drop security fixes.
    overrides = read_overrides(options.security_overrides or settings.root / OVERRIDES_FILE)
    context = context_of(settings, options)
    if not constraints_files and options.constraints != "none" and not options.constraints.startswith(
        ("http:", "https:")
    ):
        constraints_files = (context / "docker-context-files" / options.constraints,)
    locks = [
        LockPins.from_text(str(path.relative_to(context)), path.read_text())
        for path in constraints_files
        if path.is_file()
    ]
    return overrides_in_force(overrides, airflow_version=airflow_version, python=python, locks=locks)


def plan_build(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    options: BuildOptions,
    *,
    lookup: Callable[[str], LocalImage | None],
    source: SourceInfo,
    read_index: Callable[[str], dict | None] = lambda ref: None,
    engine_platform: str = "linux/amd64",
) -> BuildRequest:
    """`engine_platform` is what the engine builds for when `options.platforms` is empty."""
    release = matrix.get(options.airflow_version) if options.airflow_version else matrix.default_release()
    python = options.python or release.default_python
    matrix.check_python(release.version, python)
    constraints_files: tuple[Path, ...] = ()
    if options.constraints == "lock":
        constraints_dir = context_of(settings, options) / "constraints"
        constraints_files = (
            existing_lock(constraints_dir, release.version, python),
            *platform_locks(constraints_dir, release.version, python, options.platforms or (engine_platform,)),
        )
    if options.variant == "slim" and options.extras:
        raise InvalidBuildOption("the slim variant has no extras; drop --extras or build the regular variant")
    extras = (
        () if options.variant == "slim" else (settings.default_extras if options.extras is None else options.extras)
    )
    base, base_image = choose_base_image(settings, python, explicit=options.base_image, lookup=lookup)
    tags = options.tags or (f"{settings.image_name}:{exact_tag(release.version, python, variant=options.variant)}",)
    request = BuildRequest(
        airflow_version=release.version,
        python=python,
        base_image=base,
        base_image_digest=(
            platform_base_digest(base_image, _single_platform(options, engine_platform), read_index)
            if base_image
            else ""
        ),
        tags=tags,
        extras=extras,
        variant=options.variant,
        additional_extras=options.additional_extras,
        additional_python_deps=options.additional_python_deps,
        additional_dev_apt_deps=options.additional_dev_apt_deps,
        additional_runtime_apt_deps=options.additional_runtime_apt_deps,
        constraints=options.constraints,
        build_date=source.commit_time,
        vcs_ref=source.revision,
        source_url=settings.source_url,
        platforms=options.platforms,
        # an air-gapped build gets no network at all: that is what proves the folder is complete
        network="none" if options.offline else settings.build_network,
        ca_bundle=options.ca_bundle,
        secret_files=options.secret_files,
        airflow_uid=options.airflow_uid,
        airflow_home=options.airflow_home,
        no_cache=options.no_cache,
        offline=options.offline,
        db_clients=options.db_clients,
        cache_salt=options.cache_salt,
        output=options.output,
        provenance=options.provenance,
        security_overrides=security_overrides_for(
            settings, options, airflow_version=release.version, python=python, constraints_files=constraints_files
        ),
    )
    files = context_files(context_of(settings, options), constraints_files)
    # The platforms decide the image as much as any build argument does (same arguments, other machine code).
    pairs = [*build_args(request), ("TARGET_PLATFORMS", ",".join(options.platforms or (engine_platform,)))]
    return replace(request, inputs_hash=inputs_hash(build_arg_pairs=pairs, files=files))


def _single_platform(options: BuildOptions, engine_platform: str) -> str | None:
    if len(options.platforms) > 1:
        return None
    return options.platforms[0] if options.platforms else engine_platform


def plan_with_engine(
    settings: ProjectSettings, matrix: VersionMatrix, options: BuildOptions, runner: CommandRunner
) -> BuildRequest:
    """plan_build with its questions (images, base index, host platform, git) asked of this host."""
    return plan_build(
        settings,
        matrix,
        options,
        lookup=lambda ref: inspect_image(runner, ref),
        source=source_info(runner, settings.root),
        read_index=cached_index_reader(runner, store=index_store(settings)),
        engine_platform=host_platform(runner),
    )


def index_store(settings: ProjectSettings) -> Path:
    """Where the top-level manifests of local base images are kept between builds (see cached_index_reader)."""
    return settings.root / ".cache" / "oci-index"


def build_image(
    settings: ProjectSettings, matrix: VersionMatrix, options: BuildOptions, runner: CommandRunner
) -> BuildRequest:
    request = plan_with_engine(settings, matrix, options, runner)
    if request.base_image_digest == "" and options.base_image is None:
        runner.echo(
            f"note: no base image for Python {request.python} on this host; the engine will pull "
            f"{request.base_image} (dev/setup-host.sh makes local stand-ins where it cannot)"
        )
    context = context_of(settings, options)
    runner.run(buildx_command(request, context=context, dockerfile=context / "Dockerfile"))
    return request


def require_local_base(request: BuildRequest) -> None:
    if not request.base_image_digest:
        raise BaseImageUnavailable(
            f"base image {request.base_image} for Python {request.python} is not on this host; "
            "pull it, run dev/setup-host.sh for a stand-in, or pass --base-image"
        )


def fill_context_files(
    settings: ProjectSettings, matrix: VersionMatrix, options: BuildOptions, runner: CommandRunner, *, dest: Path
) -> BuildRequest:
    """Writes into `dest` everything an air-gapped build of the same options needs: wheels for every
    distribution, the uv wheel, and the build and runtime .deb files (the Dockerfile's
    docker-context-files target, built with the same build arguments as the image)."""
    if options.offline:
        raise InvalidBuildOption("filling docker-context-files needs the network; drop --offline")
    request = plan_with_engine(settings, matrix, options, runner)
    request = replace(request, target=CONTEXT_FILES_TARGET, output="local", output_dir=dest, tags=())
    context = context_of(settings, options)
    dest.mkdir(parents=True, exist_ok=True)
    runner.run(buildx_command(request, context=context, dockerfile=context / "Dockerfile"))
    return request
