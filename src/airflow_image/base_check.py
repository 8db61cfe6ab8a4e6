"""Which released images were built on a base image that has been patched since.

Every image names its base and the digest it was built from (OCI base labels). For each tag in the
release registry this asks the base's own registry what the base tag points at now (a manifest HEAD,
token auth where the registry asks for it) and compares like with like: a label holding a platform
manifest's digest is compared with the current index's entry for the image's platform.
Pure comparison and formatting here; the registry calls go through `RegistryClient`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .credentials import Credentials, CredentialSources, credential_sources, find_credentials
from .errors import InvalidBuildOption, RegistryError
from .locks import debian_arch
from .registry import INDEX_TYPES, RegistryClient, is_registry_host
from .release_plan import ENV_REGISTRY, Registry, parse_registry
from .runner import CommandRunner

BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"
VERSION_LABEL = "org.apache.airflow.version"
PYTHON_LABEL = "org.apache.airflow.python.version"
# `X.Y.Z-pythonA.B-YYYYMMDD` and `…-YYYYMMDD.N`: pins of one patch level, never moved and never rechecked.
DATED_TAG = re.compile(r"-\d{8}(?:\.\d+)?$")
# `sha256-<hex>.sbom` (and a signer's `.sig`, `.att`): artifacts attached to an image, not images.
ATTACHED_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.\w+$")

# The registry a base name without a host comes from (the docker CLI's default registry, or a mirror).
ENV_BASE_REGISTRY = "AIRFLOW_IMAGE_BASE_REGISTRY"

ClientFactory = Callable[..., RegistryClient]


@dataclass(frozen=True)
class BaseRef:
    host: str
    repository: str
    tag: str


def parse_base(name: str, *, default_registry: str | None) -> BaseRef:
    """`host:5000/ns/python:3.11-slim` → its parts. A name without a host is the docker CLI's default
    registry, which must be named (`default_registry`), with its `library/` convention for one-part names."""
    first, sep, rest = name.partition("/")
    if sep and is_registry_host(first):
        host, path = first, rest
    elif default_registry:
        host, path = default_registry, name if sep else f"library/{name}"
    else:
        raise RegistryError(
            f"base {name!r} names no registry host; pass --base-registry HOST (or set AIRFLOW_IMAGE_BASE_REGISTRY)"
        )
    path = path.split("@", 1)[0]
    repository, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        repository, tag = path, "latest"
    return BaseRef(host=host, repository=repository, tag=tag)


@dataclass(frozen=True)
class ImageStatus:
    tag: str  # in the release repository
    digest: str  # what the tag points at
    labels: dict
    base: str = ""
    built_from: str = ""
    current: str = ""  # the base tag's digest now ("" when it could not be asked)
    problem: str = ""
    platform: str = ""  # set for each platform of a multi-platform tag: each has a base of its own

    @property
    def stale(self) -> bool:
        return not self.problem and bool(self.current) and self.current != self.built_from

    @property
    def version(self) -> str:
        return self.labels.get(VERSION_LABEL, "")

    @property
    def python(self) -> str:
        return self.labels.get(PYTHON_LABEL, "")

    @property
    def variant(self) -> str:
        return self.labels.get("org.apache.airflow.variant", "regular")


def current_base_digest(client: RegistryClient, base: BaseRef, built_from: str, *, architecture: str) -> str:
    """The digest to compare `built_from` with, like with like: the tag's own digest when the image was
    built from a single-platform manifest or from an index; the index's entry for the image's platform
    when it was built from one platform of a multi-platform base."""
    digest = client.head_manifest(base.repository, base.tag)
    if digest is None:
        raise RegistryError(f"base {base.host}/{base.repository}:{base.tag} no longer exists in its registry")
    if digest == built_from:
        return digest
    manifest = client.get_manifest(base.repository, base.tag)
    if manifest is None or manifest.media_type not in INDEX_TYPES:
        return digest
    platforms = {
        ((m.get("platform") or {}).get("os"), (m.get("platform") or {}).get("architecture")): m
        for m in manifest.data.get("manifests", [])
    }
    entry = platforms.get(("linux", architecture))
    if entry is None:
        return digest
    if entry.get("digest") == built_from:
        return built_from
    # Which kind was built from? The old manifest usually still answers by digest; an old index is
    # compared with the index, an old platform manifest with the platform's entry now.
    old = client.get_manifest(base.repository, built_from)
    if old is not None and old.media_type in INDEX_TYPES:
        return digest
    return entry.get("digest", digest)


# Where a multi-platform release parks each platform's image before the index joins them; the index
# tags are what users pull, and they are checked platform by platform.
PLATFORM_TAG = re.compile(r"-(amd64|arm64)$")


def is_checked_tag(tag: str) -> bool:
    return not DATED_TAG.search(tag) and not ATTACHED_TAG.match(tag) and not PLATFORM_TAG.search(tag)


def read_released(client: RegistryClient, repository: str) -> list[ImageStatus]:
    """Every tag of the release repository (dated pins and platform tags left out) with its labels, read
    once per image; a multi-platform tag gives one status per platform."""
    labels_by_image: dict[tuple[str, str], dict] = {}
    found = []
    for tag in client.list_tags(repository):
        if not is_checked_tag(tag):
            continue
        digest = client.head_manifest(repository, tag) or ""
        platforms = client.platforms(repository, tag)
        for platform in platforms if len(platforms) > 1 else ("",):
            key = (digest, platform)
            if key not in labels_by_image:
                labels = client.image_labels(repository, tag, platform=platform or "linux/amd64")
                labels_by_image[key] = labels or {}
            found.append(ImageStatus(tag=tag, digest=digest, labels=labels_by_image[key], platform=platform))
    return found


def check_bases(
    images: Sequence[ImageStatus],
    *,
    default_registry: str | None,
    credentials: CredentialSources | None,
    runner: CommandRunner,
    client_factory: ClientFactory = RegistryClient,
    architecture: str = "amd64",
    release_host: str = "",
) -> list[ImageStatus]:
    """Each image with its base's current digest, or a one-line problem; one question per distinct base."""
    clients: dict[str, RegistryClient] = {}
    answers: dict[tuple[str, str], str | RegistryError] = {}
    checked = []
    for image in images:
        name, built_from = image.labels.get(BASE_NAME_LABEL, ""), image.labels.get(BASE_DIGEST_LABEL, "")
        if not name or not built_from:
            checked.append(_with(image, name, built_from, problem="has no base name/digest labels; not built here"))
            continue
        try:
            ref = parse_base(name, default_registry=default_registry)
            if ref.host not in clients:
                clients[ref.host] = client_factory(ref.host, credentials=_base_credentials(ref.host, credentials,
                                                                                           release_host, runner))
        except RegistryError as exc:
            checked.append(_with(image, name, built_from, problem=str(exc)))
            continue
        arch = debian_arch(image.platform) if image.platform else architecture
        key = (name, built_from, arch)
        if key not in answers:
            try:
                answers[key] = current_base_digest(clients[ref.host], ref, built_from, architecture=arch)
            except RegistryError as exc:
                answers[key] = exc
        answer = answers[key]
        if isinstance(answer, RegistryError):
            checked.append(_with(image, name, built_from, problem=f"cannot check base {name}: {answer}"))
        else:
            checked.append(_with(image, name, built_from, current=answer))
    return checked


def _base_credentials(
    host: str, sources: CredentialSources | None, release_host: str, runner: CommandRunner
) -> Credentials | None:
    """The release registry's credentials from the environment are for that registry only: a base
    registry gets what the docker config holds for it, or none (anonymous pulls, anonymous tokens)."""
    if sources is None:
        return None
    if host != release_host and sources.environment is not None:
        sources = replace(sources, environment=None)
    return find_credentials(host, sources, runner)


def _with(image: ImageStatus, base: str, built_from: str, *, current: str = "", problem: str = "") -> ImageStatus:
    return replace(image, base=base, built_from=built_from, current=current, problem=problem)


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12] if digest else "-"


def format_status(statuses: Iterable[ImageStatus], registry: Registry, image_name: str) -> list[str]:
    """The table `invoke check-base-images` prints, then one line per image that could not be checked."""
    statuses = list(statuses)
    rows = [
        [registry.ref(image_name, s.tag) + (f" ({s.platform})" if s.platform else ""), s.base or "-",
         _short(s.built_from), _short(s.current),
         "?" if s.problem else ("yes" if s.stale else "no")]
        for s in statuses
    ]
    header = ["image", "base", "built from", "current", "stale"]
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    lines = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    lines += [f"{registry.ref(image_name, s.tag)}: {s.problem}" for s in statuses if s.problem]
    return lines


# Exit codes of `invoke check-base-images`: everything current, something stale, something not checkable.
EXIT_CURRENT, EXIT_STALE, EXIT_PROBLEM = 0, 2, 1


def exit_code(statuses: Iterable[ImageStatus]) -> int:
    statuses = list(statuses)
    if any(s.problem for s in statuses):
        return EXIT_PROBLEM
    return EXIT_STALE if any(s.stale for s in statuses) else EXIT_CURRENT


@dataclass(frozen=True)
class CheckOptions:
    registry: Registry
    default_base_registry: str | None = None
    credentials: CredentialSources | None = None
    architecture: str = "amd64"


def check_base_images(
    options: CheckOptions,
    image_name: str,
    *,
    runner: CommandRunner,
    client_factory: ClientFactory = RegistryClient,
) -> list[ImageStatus]:
    """Reads every released tag from the release registry and checks its base."""
    host = options.registry.host
    found = find_credentials(host, options.credentials, runner) if options.credentials is not None else None
    client = client_factory(host, credentials=found)
    images = read_released(client, options.registry.repository(image_name))
    return check_bases(
        images,
        default_registry=options.default_base_registry,
        credentials=options.credentials,
        runner=runner,
        client_factory=client_factory,
        architecture=options.architecture,
        release_host=host,
    )


def parse_check_options(
    *, registry: str | None, base_registry: str | None, environ: Mapping[str, str], home: Path
) -> CheckOptions:
    """Command-line values (and the environment, read by the caller) → CheckOptions."""
    chosen = registry or environ.get(ENV_REGISTRY)
    if not chosen:
        raise InvalidBuildOption(f"no registry to check; pass --registry HOST[:PORT][/NAMESPACE] or set {ENV_REGISTRY}")
    default_base = base_registry or environ.get(ENV_BASE_REGISTRY) or None
    if default_base is not None and not is_registry_host(default_base):
        raise InvalidBuildOption(f"base registry {default_base!r} is not a HOST[:PORT] with a dot, a port or localhost")
    return CheckOptions(
        registry=parse_registry(chosen),
        default_base_registry=default_base,
        credentials=credential_sources(environ, home=home),
    )
