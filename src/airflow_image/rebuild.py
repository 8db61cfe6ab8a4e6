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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
from .errors import AirflowImageError, BaseImagesUncheckable, ImageTestsFailed, RegistryError
from .matrix import VersionMatrix
from .params import BuildRequest
from .registry import RegistryClient
from .release import push_environment, push_image, read_back, run_image_tests, tag_image
from .release_plan import ReleaseOptions, TagResult, flavour_tags, format_summary
from .runner import CommandRunner
from .sbom import for_digest, format_changes, image_sbom, inventory, validate_sbom, write_sbom
from .sbom_publish import ArtifactClient, push_sbom
from .settings import ProjectSettings
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


def plan_rebuilds(
    statuses: Sequence[ImageStatus], matrix: VersionMatrix, *, today: datetime.date, all_tags: Sequence[str]
) -> tuple[list[Rebuild], list[str]]:
    """The stale flavours and the tags each takes; plus one line per stale image not rebuilt here."""
    by_tag = {s.tag: s for s in statuses}
    stale_digests = {s.digest for s in statuses if s.stale}
    rebuilds: list[Rebuild] = []
    skipped: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for status in (s for s in statuses if s.stale):
        key = (status.version, status.python, status.variant)
        if key in seen:
            continue
        seen.add(key)
        if status.platform:
            skipped.append(f"{status.tag}: a multi-platform image ({status.platform} is stale); rebuild it with "
                           f"`invoke release --version {status.version} --python {status.python}`, which finds "
                           "the new base in its inputs; not rebuilt here")
            continue
        if status.version not in matrix.releases:
            skipped.append(f"{status.tag}: apache-airflow {status.version or '?'} is not a release in the matrix "
                           "(main images are rebuilt by the main-branch build); not rebuilt")
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
            )
        )
    return rebuilds, skipped


def format_rebuilds(rebuilds: Sequence[Rebuild], ref: Callable[[str], str]) -> list[str]:
    lines = []
    for r in rebuilds:
        lines.append(f"rebuild {r.name} on {r.base} (extras: {','.join(r.extras) or 'none'}; "
                     f"constraints: {r.constraints})")
        lines += [f"  move {ref(t)}" for t in r.moving]
        lines.append(f"  add  {ref(r.dated)}")
    return lines


def _build_options(rebuild: Rebuild, options: RebuildOptions, ref: str) -> BuildOptions:
    return BuildOptions(
        airflow_version=rebuild.version,
        python=rebuild.python,
        variant=rebuild.variant,
        extras=None if rebuild.variant == "slim" else rebuild.extras,
        constraints=rebuild.constraints,
        base_image=rebuild.base,
        ca_bundle=options.ca_bundle,
        tags=(ref,),
    )


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
        out("nothing to rebuild: every released image is on its base's current digest")
        return ()
    if runner.dry_run:
        out(f"dry run: {len(rebuilds)} flavour(s) would be rebuilt, tested and pushed; nothing was done")
        return ()

    pull_env = {"DOCKER_CONFIG": str(sources.docker_config)} if sources is not None else None
    for base in dict.fromkeys(r.base for r in rebuilds):
        # The engine's copy of the base tag is the digest it was built from; the rebuild needs the new one.
        runner.run(["docker", "pull", "--quiet", base], capture=True, env=pull_env)
    built = {r.dated: build_image(settings, matrix, _build_options(r, options, ref(r.dated)), runner)
             for r in rebuilds}
    test_options = ReleaseOptions(test_args=options.test_args, interpreter=options.interpreter)
    failed = [r.name for r in rebuilds if not run_image_tests(settings, built[r.dated], test_options, runner)]
    if failed:
        raise ImageTestsFailed(f"image tests failed for the rebuilt {', '.join(failed)}; nothing was pushed")
    documents = {r.dated: _sbom(runner, built[r.dated]) for r in rebuilds} if options.out_dir else {}

    results: list[TagResult] = []
    with push_environment(runner, registry.host, credentials, sources) as env:
        for r in rebuilds:
            targets = tuple(ref(t) for t in (*r.moving, r.dated))
            tag_image(runner, ref(r.dated), targets)
            pushed = [(t, push_image(runner, t, env=env)) for t in targets]
            results += [read_back(client, t, digest, "rebuilt") for t, digest in pushed]
    out("rebuild summary (as read back from the registry):")
    for line in format_summary(results):
        out(line)
    if options.out_dir is not None:
        for r in rebuilds:
            _write_reports(r, documents[r.dated], results, options.out_dir, runner, ref, pull_env, out)
            _publish_sbom(client, registry.repository(settings.image_name), r, documents[r.dated], results, ref, out)
    return tuple(results)


def _publish_sbom(
    client: RegistryClient,
    repository: str,
    rebuild: Rebuild,
    document: dict,
    results: Sequence[TagResult],
    ref: Callable[[str], str],
    out: Callable[[str], None],
) -> None:
    """Next to the image in the registry, where the registry takes OCI artifacts; else a note."""
    digest = next(r.digest for r in results if r.ref == ref(rebuild.dated))
    if not isinstance(client, ArtifactClient):
        out(f"SBOM of {ref(rebuild.dated)} not pushed: this registry client cannot upload blobs")
        return
    try:
        tag = push_sbom(client, repository, digest, for_digest(document, digest))
    except RegistryError as exc:
        out(f"SBOM of {ref(rebuild.dated)} not pushed (kept as a file): {exc}")
        return
    out(f"pushed the SBOM of {ref(rebuild.dated)} as {ref(tag)}")


def _sbom(runner: CommandRunner, request: BuildRequest) -> dict:
    local = inspect_image(runner, request.tags[0])
    return image_sbom(runner, request.tags[0], digest=local.id if local else "", labels=local.labels if local else {})


def _write_reports(
    rebuild: Rebuild,
    document: dict,
    results: Sequence[TagResult],
    out_dir: Path,
    runner: CommandRunner,
    ref: Callable[[str], str],
    pull_env: dict[str, str] | None,
    out: Callable[[str], None],
) -> None:
    """The SBOM (now naming the pushed digest) and the change report, written beside each other."""
    digest = next(r.digest for r in results if r.ref == ref(rebuild.dated))
    document = for_digest(document, digest)
    validate_sbom(document)
    path = write_sbom(document, out_dir / f"{rebuild.dated}.cdx.json")
    out(f"wrote {path}")
    new_ref = ref(rebuild.dated)
    old_ref = f"{new_ref.rpartition(':')[0]}@{rebuild.old_digest}"
    try:
        runner.run(["docker", "pull", "--quiet", old_ref], capture=True, env=pull_env)
        old, new = inspect_image(runner, old_ref), inspect_image(runner, new_ref)
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
) -> RebuildOptions:
    """Command-line values (and the environment, read by the caller) → RebuildOptions; dated tags use UTC days."""
    return RebuildOptions(
        check=parse_check_options(registry=registry, base_registry=base_registry, environ=environ, home=home),
        today=today or datetime.datetime.now(datetime.UTC).date(),
        ca_bundle=ca_bundle_from(None, environ),
        test_args=tuple(shlex.split(pytest_args)),
        interpreter=interpreter,
        out_dir=out,
    )
