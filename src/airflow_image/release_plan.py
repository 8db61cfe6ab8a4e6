"""What a release would do, as data: flavours × tags, each tag's state in the registry, and the
action per flavour. Pure functions only; release.py asks the engine and the registry and acts."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cli_options import ca_bundle_from
from .credentials import CredentialSources, credential_sources
from .errors import InvalidBuildOption, UnsupportedPython
from .locks import debian_arch
from .matrix import AirflowRelease, VersionMatrix
from .params import VARIANTS, BuildRequest
from .registry import is_registry_host
from .settings import SUPPORTED_PLATFORMS
from .signing import Signer, parse_signer
from .tags import TagInputs, image_tags, released_versions

# The registry a release goes to when --registry is not given.
ENV_REGISTRY = "AIRFLOW_IMAGE_REGISTRY"
INPUTS_HASH_LABEL = "org.apache.airflow.image.inputs-hash"

# Tag states, from comparing the planned inputs hash with the label of what the tag points at.
MISSING, CURRENT, STALE, UNKNOWN = "missing", "current", "stale", "unknown"
# Flavour actions: nothing to do; point missing/stale tags at the manifest a current tag already has
# (an interrupted release, resumed); build, test and push.
SKIP, COPY, BUILD = "skip", "copy", "build"


@dataclass(frozen=True)
class Registry:
    host: str
    namespace: str = ""

    def repository(self, image_name: str) -> str:
        return f"{self.namespace}/{image_name}" if self.namespace else image_name

    def ref(self, image_name: str, tag: str) -> str:
        return f"{self.host}/{self.repository(image_name)}:{tag}"


def parse_registry(value: str) -> Registry:
    """`HOST[:PORT][/NAMESPACE]`; the image name (settings.image_name) is appended to it."""
    host, _, namespace = value.strip().strip("/").partition("/")
    if not host or not is_registry_host(host) or any(c.isupper() or c.isspace() for c in value):
        raise InvalidBuildOption(
            f"registry {value!r} is not HOST[:PORT][/NAMESPACE] with a host that has a dot, a port or is localhost"
        )
    return Registry(host=host, namespace=namespace)


@dataclass(frozen=True)
class ReleaseOptions:
    airflow_version: str | None = None
    registry: Registry | None = None
    pythons: tuple[str, ...] = ()  # empty: every flavour of the version
    variants: tuple[str, ...] = ("regular",)
    extras: tuple[str, ...] | None = None  # None: the production default
    constraints: str = "lock"
    ca_bundle: Path | None = None
    test_args: tuple[str, ...] = ()  # extra pytest arguments for every flavour's image tests
    interpreter: str = "python3"  # runs the image tests; needs pytest and the docker SDK
    credentials: CredentialSources | None = None
    platforms: tuple[str, ...] = ()  # empty: [tool.airflow-image] release-platforms
    signer: Signer | None = None  # None: pushed unsigned, no attestations beyond BuildKit's own
    # The summary and each pushed image's SBOM are written to out_dir/<version>/; None: printed only.
    out_dir: Path | None = None


def parse_release_options(
    *,
    version: str | None,
    registry: str | None,
    pythons: Sequence[str] = (),
    variants: Sequence[str] = (),
    extras: str | None = None,
    constraints: str = "lock",
    pytest_args: str = "",
    platforms: Sequence[str] = (),
    sign_key: str | None = None,
    sign_keyless: bool = False,
    transparency_log: bool = True,
    out: Path | None = None,
    interpreter: str,
    environ: Mapping[str, str],
    home: Path,
) -> ReleaseOptions:
    """Command-line values (and the environment, read by the caller) → ReleaseOptions."""
    chosen = registry or environ.get(ENV_REGISTRY)
    for platform in platforms:
        if platform.strip() not in SUPPORTED_PLATFORMS:
            raise InvalidBuildOption(f"platform {platform!r} is not one of: {', '.join(SUPPORTED_PLATFORMS)}")
    return ReleaseOptions(
        airflow_version=version,
        registry=parse_registry(chosen) if chosen else None,
        pythons=tuple(pythons),
        variants=tuple(variants) or ("regular",),
        extras=None if extras is None else tuple(e.strip() for e in extras.split(",") if e.strip()),
        constraints=constraints,
        ca_bundle=ca_bundle_from(None, environ),
        test_args=tuple(shlex.split(pytest_args)),
        interpreter=interpreter,
        credentials=credential_sources(environ, home=home),
        platforms=tuple(dict.fromkeys(p.strip() for p in platforms if p.strip())),
        signer=parse_signer(sign_key=sign_key, keyless=sign_keyless, transparency_log=transparency_log),
        out_dir=out,
    )


@dataclass(frozen=True)
class TagState:
    tag: str
    status: str
    digest: str = ""


@dataclass(frozen=True)
class FlavourPlan:
    python: str
    variant: str
    tags: tuple[str, ...]
    request: BuildRequest | None = None  # None when the flavour cannot be planned (see problem)
    problem: str = ""
    states: tuple[TagState, ...] = ()
    # One single-platform build per platform; with several, each is pushed under its platform tag
    # and every tag of the flavour becomes an index of them.
    platform_requests: tuple[BuildRequest, ...] = ()

    @property
    def name(self) -> str:
        return f"Python {self.python}" + (f" {self.variant}" if self.variant != "regular" else "")

    @property
    def exact(self) -> str:
        return self.tags[0]

    @property
    def action(self) -> str:
        return flavour_action(self.states)


@dataclass(frozen=True)
class ReleasePlan:
    version: str
    image_name: str
    registry: Registry | None
    flavours: tuple[FlavourPlan, ...]
    problems: tuple[str, ...] = ()  # release-wide (registry, credentials); flavour problems live on flavours

    def ref(self, tag: str) -> str:
        if self.registry is None:
            return f"{self.image_name}:{tag}"
        return self.registry.ref(self.image_name, tag)

    @property
    def repository(self) -> str:
        return self.registry.repository(self.image_name) if self.registry else self.image_name

    def all_problems(self) -> tuple[str, ...]:
        return self.problems + tuple(f"{f.name}: {f.problem}" for f in self.flavours if f.problem)


def select_flavours(
    release: AirflowRelease, pythons: Sequence[str], variants: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """(python, variant) pairs in matrix order; a flavour the version lacks is refused, not skipped."""
    for python in pythons:
        if python not in release.pythons:
            raise UnsupportedPython(python, airflow_version=release.version, supported=release.pythons)
    for variant in variants:
        if variant not in VARIANTS:
            raise InvalidBuildOption(f"variant {variant!r} is not one of: {', '.join(VARIANTS)}")
    chosen = [p for p in release.pythons if not pythons or p in pythons]
    return tuple((p, v) for p in chosen for v in dict.fromkeys(variants))


def flavour_tags(matrix: VersionMatrix, release: AirflowRelease, python: str, variant: str) -> tuple[str, ...]:
    """The convention's tags for one flavour, given every version the matrix knows as released."""
    yanked = [r.version for r in matrix.releases.values() if r.yanked]
    return image_tags(
        TagInputs(
            airflow_version=release.version,
            python=python,
            default_python=release.default_python,
            variant=variant,
            released_versions=released_versions(matrix.releases, yanked=yanked),
        )
    )


def platform_tag(tag: str, platform: str) -> str:
    """Where one platform's image of a multi-platform flavour is pushed before the index joins them."""
    return f"{tag}-{debian_arch(platform)}"


def tag_state(
    tag: str, planned: Mapping[str, str], remote_labels: Mapping[str, dict | None], digest: str = ""
) -> TagState:
    """`planned`: platform → inputs hash; `remote_labels`: platform → the labels the tag's image for
    that platform has (None: the tag, or that platform behind it, is absent). Current only when every
    planned platform is there with the planned hash."""
    if all(remote_labels.get(p) is None for p in planned):
        return TagState(tag, MISSING)
    if all(h and (remote_labels.get(p) or {}).get(INPUTS_HASH_LABEL) == h for p, h in planned.items()):
        return TagState(tag, CURRENT, digest)
    return TagState(tag, STALE, digest)


def flavour_action(states: Iterable[TagState]) -> str:
    states = tuple(states)
    if states and all(s.status == CURRENT for s in states):
        return SKIP
    if any(s.status == CURRENT for s in states):
        return COPY
    return BUILD


def copy_source(flavour: FlavourPlan) -> TagState:
    """The tag whose manifest the others are pointed at: the exact tag when current, else any current one."""
    current = [s for s in flavour.states if s.status == CURRENT]
    return next((s for s in current if s.tag == flavour.exact), current[0])


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_plan(plan: ReleasePlan) -> list[str]:
    rows = []
    for flavour in plan.flavours:
        states = {s.tag: s.status for s in flavour.states}
        action = "refused" if flavour.problem else flavour.action
        for tag in flavour.tags:
            rows.append([flavour.name, plan.ref(tag), states.get(tag, UNKNOWN), action])
    title = f"release plan: apache-airflow {plan.version} → {plan.registry.host if plan.registry else '(no registry)'}"
    return [title, *_table(["flavour", "image", "registry has", "action"], rows)]


@dataclass(frozen=True)
class TagResult:
    ref: str
    digest: str  # what the registry answered to HEAD after the push
    size: int  # bytes of the image's layers as stored in the registry (compressed)
    action: str  # pushed | copied | unchanged


def format_summary(results: Sequence[TagResult]) -> list[str]:
    rows = [[r.ref, r.digest, f"{r.size / 1e6:.1f} MB", r.action] for r in results]
    return _table(["tag", "digest (from the registry)", "size", "action"], rows)
