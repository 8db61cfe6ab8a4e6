"""Rebuilding released images whose base image was patched: same Airflow version, same locked
constraints and extras (read from the image's own labels), the base's current digest.

A release's atomicity: check every base first (any image that cannot be checked stops everything),
build every stale flavour, run every image's tests and generate every SBOM, and only then push. The
moving tags the naming convention gives a flavour move to the rebuilt image, and a dated tag
(`X.Y.Z-pythonA.B-YYYYMMDD`, `….2` for a second rebuild that day) pins the new patch level.
"""

from __future__ import annotations

import datetime
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .attestation import check_signer, format_signing, sign_pushed
from .base_check import (
    CheckOptions,
    ClientFactory,
    ImageStatus,
    check_base_images,
    format_status,
    parse_check_options,
)
from .build import BuildOptions, build_image
from .cli_options import ca_bundle_from
from .credentials import find_credentials
from .engine import inspect_image
from .errors import AirflowImageError, BaseImagesUncheckable, ImageTestsFailed, SbomError
from .matrix import VersionMatrix
from .push import push_environment, push_image, push_index, read_back, tag_image
from .release import run_image_tests
from .release_plan import ReleaseOptions, TagResult, flavour_tags, format_summary, platform_tag
from .runner import CommandRunner
from .sbom import format_changes, inventory
from .sbom_publish import ArtifactClient, generate_sboms, publish_sboms
from .settings import ProjectSettings
from .signing import Signer, parse_signer
from .tags import exact_tag

EXTRAS_LABEL = "org.apache.airflow.extras"
CONSTRAINTS_LABEL = "org.apache.airflow.constraints"


@dataclass(frozen=True)
class RebuildOptions:
    check: CheckOptions
    today: datetime.date
    ca_bundle: Path | None = None
    test_args: tuple[str, ...] = ()
    interpreter: str = "python3"  # runs the image tests; needs pytest and the docker SDK
    out_dir: Path | None = None  # SBOMs and change reports; None: none written
    signer: Signer | None = None  # signs what is pushed and attests its SBOM and provenance, as a release does


@dataclass(frozen=True)
class Rebuild:
    """One stale flavour: what it was built from, and the tags the rebuilt image takes."""

    version: str
    python: str
    variant: str
    extras: tuple[str, ...]
    constraints: str
    base: str
    old_digest: str  # the image the exact tag pointed at
    moving: tuple[str, ...]
    dated: str
    platforms: tuple[str, ...] = ()  # a multi-platform image: every platform is rebuilt, one index pushed

    @property
    def exact(self) -> str:
        return exact_tag(self.version, self.python, variant=self.variant)

    @property
    def name(self) -> str:
        return f"{self.version}-python{self.python}" + (f" ({self.variant})" if self.variant != "regular" else "")


def dated_tag(exact: str, day: datetime.date, existing: Sequence[str]) -> str:
    """`exact-YYYYMMDD`, or `exact-YYYYMMDD.N` with the next free N when that day already has one."""
    first = f"{exact}-{day:%Y%m%d}"
    if first not in existing:
        return first
    counter = 2
    while f"{first}.{counter}" in existing:
        counter += 1
    return f"{first}.{counter}"


def is_main_tag(tag: str) -> bool:
    """`main`, `main-pythonA.B` and their `slim-` twins: builds of the main branch. Their version label is
    the release they were built from, so only the tag tells them apart from that release's images."""
    name = tag.removeprefix("slim-")
    return name == "main" or name.startswith("main-python")


def plan_rebuilds(
    statuses: Sequence[ImageStatus], matrix: VersionMatrix, *, today: datetime.date, all_tags: Sequence[str]
) -> tuple[list[Rebuild], list[str]]:
    """The stale flavours and the tags each takes; plus one line per stale image not rebuilt here: main
    images (the daily main-branch build replaces them) and versions the matrix does not know."""
    skipped = [f"{tag}: a main-branch image; not rebuilt here (the daily main-branch build rebuilds it)"
               for tag in stale_main_images(statuses)]  # fmt: skip
    statuses = [s for s in statuses if not is_main_tag(s.tag)]
    by_tag = {s.tag: s for s in statuses}
    stale_digests = {s.digest for s in statuses if s.stale}
    # One stale platform makes the whole index stale: its platforms are rebuilt together.
    platforms_of: dict[str, set[str]] = {}
    for s in statuses:
        if s.platform:
            platforms_of.setdefault(s.digest, set()).add(s.platform)
    rebuilds: list[Rebuild] = []
    seen: set[tuple[str, str, str]] = set()
    for status in (s for s in statuses if s.stale):
        key = (status.version, status.python, status.variant)
        if key in seen:
            continue
        seen.add(key)
        if status.version not in matrix.releases:
            skipped.append(f"{status.tag}: apache-airflow {status.version or '?'} is not a release in the version "
                           "matrix (invoke update-matrix if it was released since); not rebuilt")
            continue
        tags = flavour_tags(matrix, matrix.get(status.version), status.python, status.variant)
        exact = exact_tag(status.version, status.python, variant=status.variant)
        # A convention tag that points at a current image (released since) is not taken over.
        moving = tuple(t for t in tags if t not in by_tag or by_tag[t].digest in stale_digests)
        source = by_tag.get(exact, status)
        extras = tuple(e for e in source.labels.get(EXTRAS_LABEL, "").split(",") if e)
        rebuilds.append(
            Rebuild(
                version=status.version,
                python=status.python,
                variant=status.variant,
                extras=extras,
                constraints=source.labels.get(CONSTRAINTS_LABEL) or "lock",
                base=source.base,
                old_digest=source.digest,
                moving=moving,
                dated=dated_tag(exact, today, all_tags),
                platforms=tuple(sorted(platforms_of.get(source.digest, ()))),
            )
        )
    return rebuilds, skipped


def stale_main_images(statuses: Sequence[ImageStatus]) -> list[str]:
    return list(dict.fromkeys(s.tag for s in statuses if s.stale and is_main_tag(s.tag)))


def nothing_to_rebuild(statuses: Sequence[ImageStatus]) -> str:
    """Why rebuild-stale did nothing, when nothing it may rebuild is stale."""
    main = stale_main_images(statuses)
    others = list(dict.fromkeys(s.tag for s in statuses if s.stale and not is_main_tag(s.tag)))
    if not main and not others:
        return "nothing to rebuild: every released image is on its base's current digest"
    reasons = []
    if others:
        reasons.append(f"the stale image(s) {', '.join(others)} are of versions the matrix does not know")
    else:
        reasons.append("every released image is on its base's current digest")
    if main:
        reasons.append(f"the stale main image(s) {', '.join(main)} are rebuilt on the bases' current digests by "
                       "the daily main-branch build, not by rebuild-stale (docs/security.md)")
    return "nothing to rebuild: " + "; ".join(reasons)


def format_rebuilds(rebuilds: Sequence[Rebuild], ref: Callable[[str], str]) -> list[str]:
    lines = []
    for r in rebuilds:
        platforms = f"; platforms: {', '.join(r.platforms)}" if r.platforms else ""
        lines.append(f"rebuild {r.name} on {r.base} (extras: {','.join(r.extras) or 'none'}; "
                     f"constraints: {r.constraints}{platforms})")
        lines += [f"  move {ref(t)}" for t in r.moving]
        lines.append(f"  add  {ref(r.dated)}")
    return lines


def _build_options(rebuild: Rebuild, options: RebuildOptions, ref: str, platform: str) -> BuildOptions:
    return BuildOptions(
        airflow_version=rebuild.version,
        python=rebuild.python,
        variant=rebuild.variant,
        extras=None if rebuild.variant == "slim" else rebuild.extras,
        constraints=rebuild.constraints,
        base_image=rebuild.base,
        ca_bundle=options.ca_bundle,
        tags=(ref,),
        platforms=(platform,) if platform else (),
        provenance="mode=max",  # pushed like a release's images: the full build record rides along
    )


def _builds(rebuild: Rebuild, ref: Callable[[str], str]) -> list[tuple[str, str]]:
    """(platform, local ref) of each image a rebuild builds: the dated tag itself for a single-platform
    image; for a multi-platform one, each platform under its platform tag, as a release pushes them."""
    if not rebuild.platforms:
        return [("", ref(rebuild.dated))]
    return [(p, ref(platform_tag(rebuild.exact, p))) for p in rebuild.platforms]


def rebuild_stale(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    options: RebuildOptions,
    *,
    runner: CommandRunner,
    client_factory: ClientFactory = ArtifactClient,
    out: Callable[[str], None] = print,
) -> tuple[TagResult, ...]:
    """Checks every base, then builds, tests and SBOMs every stale flavour, then pushes all of them."""
    registry, sources = options.check.registry, options.check.credentials
    ref = lambda tag: registry.ref(settings.image_name, tag)  # noqa: E731
    statuses = check_base_images(options.check, settings.image_name, runner=runner, client_factory=client_factory)
    for line in format_status(statuses, registry, settings.image_name):
        out(line)
    problems = [s for s in statuses if s.problem]
    if problems:
        raise BaseImagesUncheckable(
            f"{len(problems)} image(s) could not be checked, so nothing was rebuilt; first: "
            f"{ref(problems[0].tag)}: {problems[0].problem}"
        )
    credentials = find_credentials(registry.host, sources, runner) if sources is not None else None
    client = client_factory(registry.host, credentials=credentials)
    all_tags = client.list_tags(registry.repository(settings.image_name))
    rebuilds, skipped = plan_rebuilds(statuses, matrix, today=options.today, all_tags=all_tags)
    for line in (*skipped, *format_rebuilds(rebuilds, ref)):
        out(line)
    if not rebuilds:
        out(nothing_to_rebuild(statuses))
        return ()
    if runner.dry_run:
        out(f"dry run: {len(rebuilds)} flavour(s) would be rebuilt, tested and pushed; nothing was done")
        return ()
    if options.signer is not None:
        check_signer(options.signer, runner)

    pull_env = {"DOCKER_CONFIG": str(sources.docker_config)} if sources is not None else None
    for base in dict.fromkeys(r.base for r in rebuilds):
        # The engine's copy of the base tag is the digest it was built from; the rebuild needs the new one
        # (each platform's, for a multi-platform image).
        for platform in sorted({p for r in rebuilds if r.base == base for p in r.platforms}) or [""]:
            runner.run(["docker", "pull", "--quiet", *(["--platform", platform] if platform else []), base],
                       capture=True, env=pull_env)  # fmt: skip
    built = {(r.dated, platform): build_image(settings, matrix, _build_options(r, options, local, platform), runner)
             for r in rebuilds for platform, local in _builds(r, ref)}  # fmt: skip
    test_options = ReleaseOptions(test_args=options.test_args, interpreter=options.interpreter)
    names = {r.dated: r.name for r in rebuilds}
    failed = [names[dated] + (f" on {platform}" if platform else "") for (dated, platform), request in built.items()
              if not run_image_tests(settings, request, test_options, runner)]  # fmt: skip
    if failed:
        raise ImageTestsFailed(f"image tests failed for the rebuilt {', '.join(failed)}; nothing was pushed")
    # generated before anything is pushed: a failure here leaves the registry untouched
    documents, sbom_seconds = generate_sboms(built, runner)

    results: list[TagResult] = []
    repository = registry.repository(settings.image_name)
    with push_environment(runner, registry.host, credentials, sources) as env:
        for r in rebuilds:
            targets = tuple(ref(t) for t in (r.dated, *r.moving))
            if r.platforms:
                platform_refs = [(local, platform) for platform, local in _builds(r, ref)]
                results += push_index(client, repository, platform_refs, targets, runner=runner, env=env,
                                      action="rebuilt")  # fmt: skip
                continue
            tag_image(runner, ref(r.dated), targets)
            pushed = [(t, push_image(runner, t, env=env)) for t in targets]
            results += [read_back(client, t, digest, "rebuilt") for t, digest in pushed]
    out("rebuild summary (as read back from the registry):")
    for line in format_summary(results):
        out(line)
    published = {}
    for r in rebuilds:
        digest = next(t.digest for t in results if t.ref == ref(r.dated))
        sboms = {platform: doc for (dated, platform), doc in documents.items() if dated == r.dated}
        published[r.dated] = (digest, publish_sboms(client, repository, digest, sboms, name=r.dated,
                                                    out_dir=options.out_dir, out=out))  # fmt: skip
        if options.out_dir is not None:
            _write_report(r, options.out_dir, runner, ref, pull_env, out)
    signing = None
    if options.signer is not None:
        started = time.monotonic()
        with push_environment(runner, registry.host, credentials, sources) as env:
            signed = [(ref(dated).rpartition(":")[0], digest, docs) for dated, (digest, docs) in published.items()]
            steps = sign_pushed(options.signer, client, signed, runner=runner, env=env)
        signing = (steps, sbom_seconds, time.monotonic() - started)
    for line in format_signing(options.signer, signing, skipped=[]):
        out(line)
    return tuple(results)


def _write_report(
    rebuild: Rebuild,
    out_dir: Path,
    runner: CommandRunner,
    ref: Callable[[str], str],
    pull_env: dict[str, str] | None,
    out: Callable[[str], None],
) -> None:
    """What changed from the old image to the rebuilt one (the engine's platform's image of each)."""
    new_ref = ref(rebuild.dated)
    old_ref = f"{new_ref.rpartition(':')[0]}@{rebuild.old_digest}"
    try:
        runner.run(["docker", "pull", "--quiet", old_ref], capture=True, env=pull_env)
        if rebuild.platforms:  # the index was assembled in the registry; the engine has only its parts
            runner.run(["docker", "pull", "--quiet", new_ref], capture=True, env=pull_env)
        old, new = inspect_image(runner, old_ref), inspect_image(runner, new_ref)
        if old is None or new is None:
            raise SbomError(f"{old_ref if old is None else new_ref} is not on this host after the pull")
        lines = format_changes(old_ref, new_ref, inventory(runner, old_ref, size=old.size),
                               inventory(runner, new_ref, size=new.size))
    except AirflowImageError as exc:
        lines = [f"changes from {old_ref} to {new_ref}: not available ({exc})"]
    for line in lines:
        out(line)
    report = out_dir / f"{rebuild.dated}.changes.txt"
    report.write_text("\n".join(lines) + "\n")
    out(f"wrote {report}")


def parse_rebuild_options(
    *,
    registry: str | None,
    base_registry: str | None,
    pytest_args: str,
    out: Path | None,
    interpreter: str,
    environ: Mapping[str, str],
    home: Path,
    today: datetime.date | None = None,
    sign_key: str | None = None,
    sign_keyless: bool = False,
    transparency_log: bool = True,
) -> RebuildOptions:
    """Command-line values (and the environment, read by the caller) → RebuildOptions; dated tags use UTC days."""
    return RebuildOptions(
        check=parse_check_options(registry=registry, base_registry=base_registry, environ=environ, home=home),
        today=today or datetime.datetime.now(datetime.UTC).date(),
        ca_bundle=ca_bundle_from(None, environ),
        test_args=tuple(shlex.split(pytest_args)),
        interpreter=interpreter,
        out_dir=out,
        signer=parse_signer(sign_key=sign_key, keyless=sign_keyless, transparency_log=transparency_log),
    )
