"""Pushing images and reading them back: the single-image steps (`invoke tag`, `invoke push`) a release
and a rebuild are made of, and the one index a multi-platform flavour is published as."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from .credentials import Credentials, CredentialSources, find_credentials
from .engine import inspect_image
from .errors import CommandFailed, RegistryMismatch, ReleaseRefused
from .matrix import VersionMatrix
from .registry import RegistryClient, split_ref
from .release_plan import Registry, TagResult, flavour_tags
from .runner import CommandRunner
from .settings import ProjectSettings

ClientFactory = Callable[..., RegistryClient]
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_REGISTRY_SIDE_FAILURE = re.compile(
    r"Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|connection reset by peer|unexpected EOF"
)


def tag_image(runner: CommandRunner, source: str, targets: tuple[str, ...]) -> None:
    for target in targets:
        if target != source:
            runner.run(["docker", "tag", source, target])


def push_image(
    runner: CommandRunner, ref: str, *, env: dict[str, str] | None, attempts: int = 3, pause: float = 2.0
) -> str:
    """`docker push`; returns the digest the client says it pushed ("" in a dry run). A push the
    registry failed on its side (a 5xx answer, a dropped connection) is tried again: pushes are
    idempotent, and a registry under load does that now and then."""
    argv = ["docker", "push", ref]
    for attempt in range(1, attempts + 1):
        result = runner.run(argv, capture=True, check=False, env=env)
        if result.returncode == 0 or runner.dry_run:
            break
        detail = (result.stderr.strip().splitlines() or [""])[-1]
        if attempt == attempts or not _REGISTRY_SIDE_FAILURE.search(result.stderr):
            raise CommandFailed(argv, result.returncode, detail=detail)
        runner.echo(f"docker push {ref}: the registry failed ({detail}); trying again ({attempt + 1}/{attempts})")
        time.sleep(pause * attempt)
    if runner.dry_run:
        return ""
    found = _PUSHED_DIGEST.findall(result.stdout)
    if found:
        return found[-1]
    local = inspect_image(runner, ref)
    ref_parts = split_ref(ref)
    prefix = f"{ref_parts.host}/{ref_parts.repository}@"
    return next((d.partition("@")[2] for d in (local.repo_digests if local else ()) if d.startswith(prefix)), "")


def read_back(client: RegistryClient, ref: str, expected: str, action: str) -> TagResult:
    """What the registry now says the tag is; refuses to report a digest other than the one just pushed."""
    parts = split_ref(ref)
    digest = client.head_manifest(parts.repository, parts.tag)
    if digest != expected:
        raise RegistryMismatch(f"{ref} points at {digest or 'nothing'} in the registry, not at {expected} as pushed")
    return TagResult(ref=ref, digest=digest, size=client.image_size(parts.repository, parts.tag) or 0, action=action)


@contextmanager
def push_environment(
    runner: CommandRunner, host: str, credentials: Credentials | None, sources: CredentialSources | None
) -> Iterator[dict[str, str] | None]:
    """The DOCKER_CONFIG `docker push` runs with. Credentials from the environment are logged in to a
    throw-away config (password on stdin), so the user's own config is never written."""
    if credentials is not None and credentials.source == "environment":
        with tempfile.TemporaryDirectory(prefix="airflow-image-push-") as config:
            env = {"DOCKER_CONFIG": config}
            runner.run(
                ["docker", "login", "--username", credentials.username, "--password-stdin", host],
                input=credentials.password,
                capture=True,
                env=env,
            )
            yield env
        return
    yield {"DOCKER_CONFIG": str(sources.docker_config)} if sources is not None else None


def client_for(
    host: str, sources: CredentialSources | None, runner: CommandRunner, client_factory: ClientFactory
) -> tuple[RegistryClient, Credentials | None]:
    credentials = find_credentials(host, sources, runner) if sources is not None else None
    return client_factory(host, credentials=credentials), credentials


@contextmanager
def client_for_image(
    image: str,
    sources: CredentialSources | None,
    runner: CommandRunner,
    *,
    client_factory: ClientFactory = RegistryClient,
) -> Iterator[tuple[RegistryClient, dict[str, str] | None]]:
    """A registry client for the image's host, and the DOCKER_CONFIG that tools (cosign) reach it with."""
    host = image.partition("/")[0]
    client, found = client_for(host, sources, runner, client_factory)
    with push_environment(runner, host, found, sources) as env:
        yield client, env


def tag_for_release(
    settings: ProjectSettings, matrix: VersionMatrix, *, image: str, registry: Registry, runner: CommandRunner
) -> tuple[str, ...]:
    """Gives a local image every name the convention gives its flavour (read from its labels)."""
    local = inspect_image(runner, image)
    if local is None:
        raise ReleaseRefused(f"image {image} is not on this host; build it first (nox -s build_prod-X.Y)")
    version, python = (
        local.labels.get("org.apache.airflow.version"),
        local.labels.get("org.apache.airflow.python.version"),
    )
    if not version or not python:
        raise ReleaseRefused(f"image {image} has no org.apache.airflow.version/python.version labels; not built here")
    release = matrix.get(version)
    variant = local.labels.get("org.apache.airflow.variant", "regular")
    refs = tuple(registry.ref(settings.image_name, t) for t in flavour_tags(matrix, release, python, variant))
    tag_image(runner, image, refs)
    return refs


def push_images(
    refs: tuple[str, ...],
    *,
    credentials: CredentialSources | None,
    runner: CommandRunner,
    client_factory: ClientFactory = RegistryClient,
) -> tuple[TagResult, ...]:
    """Pushes each ref and reads it back from the registry."""
    results = []
    for ref in refs:
        parts = split_ref(ref)
        client, found = client_for(parts.host, credentials, runner, client_factory)
        client.check_access(parts.repository, push=True)
        with push_environment(runner, parts.host, found, credentials) as env:
            digest = push_image(runner, ref, env=env)
        if not runner.dry_run:
            results.append(read_back(client, ref, digest, "pushed"))
    return tuple(results)


def push_index(
    client: RegistryClient,
    repository: str,
    platform_refs: Sequence[tuple[str, str]],
    refs: Sequence[str],
    *,
    runner: CommandRunner,
    env: dict[str, str] | None,
    action: str,
) -> list[TagResult]:
    """Each platform's image under its platform tag (`platform_refs`: ref, platform), then one index
    under every ref, assembled registry-side; read back to check that every ref serves every platform."""
    sources = []
    for ref, _ in platform_refs:
        digest = push_image(runner, ref, env=env)
        sources.append(f"{ref.rpartition(':')[0]}@{digest}" if digest else ref)
    argv = ["docker", "buildx", "imagetools", "create"]
    for ref in refs:
        argv += ["--tag", ref]
    runner.run([*argv, *sources], capture=True, env=env)
    if runner.dry_run:
        return []
    wanted = {platform for _, platform in platform_refs}
    index_digest = client.head_manifest(repository, split_ref(refs[0]).tag) or ""
    results = []
    for ref in refs:
        result = read_back(client, ref, index_digest, action)
        served = set(client.platforms(repository, split_ref(ref).tag))
        if not wanted <= served:
            raise RegistryMismatch(
                f"{ref} serves {', '.join(sorted(served)) or 'no platform'}, not {', '.join(sorted(wanted))}"
            )
        results.append(result)
    return results
