"""Releasing images: plan every flavour, refuse up front what cannot finish, build all, test all,
generate every image's SBOM, and only then push all — or nothing; then publish the SBOMs beside the
images and the summary, and sign when asked. The single-image steps are push.py's.

Idempotent by build inputs, not digests (rebuilds are not bit-identical): a tag whose image carries
the planned inputs hash is left alone, and a flavour with some tags already current (an interrupted
release) gets its other tags pointed at that same manifest, registry-side, without a rebuild.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .attestation import check_signer, format_signing, sign_pushed
from .build import BuildOptions, build_image, index_store, plan_build
from .engine import LocalImage, cached_index_reader, host_platform, inspect_image, source_info
from .errors import AirflowImageError, ImageTestsFailed, RegistryError, ReleaseRefused
from .image_tests import image_test_args
from .matrix import VersionMatrix
from .params import BuildRequest
from .push import ClientFactory, client_for, push_environment, push_image, push_index, read_back, tag_image
from .registry import RegistryClient
from .release_plan import (
    BUILD,
    COPY,
    CURRENT,
    SKIP,
    FlavourPlan,
    ReleaseOptions,
    ReleasePlan,
    TagResult,
    copy_source,
    flavour_tags,
    format_plan,
    format_summary,
    platform_tag,
    select_flavours,
    tag_state,
)
from .runner import CommandRunner
from .sbom_publish import ArtifactClient, generate_sboms, publish_sboms
from .settings import ProjectSettings

SUMMARY_FILE = "summary.txt"

# -- the release ----------------------------------------------------------------------------------------


def _build_options(
    options: ReleaseOptions, version: str, python: str, variant: str, ref: str, platform: str
) -> BuildOptions:
    return BuildOptions(
        airflow_version=version,
        python=python,
        variant=variant,
        extras=None if variant == "slim" else options.extras,
        constraints=options.constraints,
        ca_bundle=options.ca_bundle,
        tags=(ref,),
        platforms=(platform,),
        # pushed images carry the full build record: Dockerfile, arguments, base digest, revision
        provenance="mode=max",
    )


def release_platforms(settings: ProjectSettings, options: ReleaseOptions) -> tuple[str, ...]:
    return options.platforms or settings.release_platforms


def _platform_ref(plan: ReleasePlan, exact: str, platform: str, platforms: tuple[str, ...]) -> str:
    """A single-platform release pushes the image under its tags directly; a multi-platform one first
    under one tag per platform."""
    return plan.ref(exact if len(platforms) == 1 else platform_tag(exact, platform))


def _remote_image_exists(runner: CommandRunner, ref: str) -> bool:
    """Whether a registry serves `ref`, asked through the docker CLI (it knows the default registry)."""
    result = runner.run(
        ["docker", "buildx", "imagetools", "inspect", ref], capture=True, check=False, quiet=True, read_only=True
    )
    return result.returncode == 0


def plan_release(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    options: ReleaseOptions,
    *,
    runner: CommandRunner,
    client: RegistryClient | None,
) -> ReleasePlan:
    release = matrix.get(options.airflow_version) if options.airflow_version else matrix.default_release()
    shell = ReleasePlan(release.version, settings.image_name, options.registry, ())
    cache: dict[str, LocalImage | None] = {}
    lookup = lambda ref: cache[ref] if ref in cache else cache.setdefault(ref, inspect_image(runner, ref))  # noqa: E731
    source = source_info(runner, settings.root)
    read_index, engine_platform = cached_index_reader(runner, store=index_store(settings)), host_platform(runner)
    platforms = release_platforms(settings, options)
    flavours: list[FlavourPlan] = []
    for python, variant in select_flavours(release, options.pythons, options.variants):
        tags = flavour_tags(matrix, release, python, variant)
        try:
            requests = tuple(
                plan_build(
                    settings, matrix,
                    _build_options(options, release.version, python, variant,
                                   _platform_ref(shell, tags[0], platform, platforms), platform),
                    lookup=lookup, source=source, read_index=read_index, engine_platform=engine_platform,
                )
                for platform in platforms
            )  # fmt: skip
        except AirflowImageError as exc:
            flavours.append(FlavourPlan(python, variant, tags, problem=str(exc)))
            continue
        request = requests[0]
        problem = ""
        if not request.base_image_digest and not _remote_image_exists(runner, request.base_image):
            problem = f"base image {request.base_image} is neither on this host nor served by a registry"
        flavours.append(FlavourPlan(python, variant, tags, request, problem, platform_requests=requests))
    problems: list[str] = []
    if options.registry is None:
        problems.append("no registry to release to; pass --registry HOST[:PORT][/NAMESPACE]")
    elif client is not None:
        try:
            client.check_access(shell.repository, push=True)
            flavours = [_with_states(f, client, shell.repository) for f in flavours]
        except RegistryError as exc:
            problems.append(str(exc))
    return replace(shell, flavours=tuple(flavours), problems=tuple(problems))


def _with_states(flavour: FlavourPlan, client: RegistryClient, repository: str) -> FlavourPlan:
    if flavour.request is None:
        return flavour
    planned = {r.platforms[0]: r.inputs_hash for r in flavour.platform_requests}
    states = []
    for tag in flavour.tags:
        labels = {p: client.image_labels(repository, tag, platform=p) for p in planned}
        present = any(v is not None for v in labels.values())
        digest = client.head_manifest(repository, tag) if present else ""
        states.append(tag_state(tag, planned, labels, digest or ""))
    return replace(flavour, states=tuple(states))


def _refusal(plan: ReleasePlan) -> str:
    problems = plan.all_problems()
    fine = [f.python for f in plan.flavours if not f.problem]
    hint = ""
    if fine and any(f.problem for f in plan.flavours):
        hint = " (release the others alone with " + " ".join(f"--python {p}" for p in dict.fromkeys(fine)) + ")"
    return f"cannot release apache-airflow {plan.version}: " + "; ".join(problems) + hint


def run_image_tests(
    settings: ProjectSettings, request: BuildRequest, options: ReleaseOptions, runner: CommandRunner
) -> bool:
    """The image test suite the `test_prod-X.Y` sessions run, against the image just built."""
    args = image_test_args(
        image=request.tags[0],
        airflow_version=request.airflow_version,
        python=request.python,
        extras=(*request.extras, *request.additional_extras),
        variant=request.variant,
        ca_bundle=request.ca_bundle,
        platform=request.platforms[0] if request.platforms else "",
    )
    argv = [options.interpreter, "-m", "pytest", *args, *options.test_args]
    return runner.run(argv, check=False, cwd=settings.root).returncode == 0


def release(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    options: ReleaseOptions,
    *,
    runner: CommandRunner,
    client_factory: ClientFactory = ArtifactClient,
    out: Callable[[str], None] = print,
) -> tuple[TagResult, ...]:
    """Plans, refuses up front, builds all, tests all, generates every SBOM, pushes all, reads every tag
    back, publishes the SBOMs, signs when asked; prints the plan and the summary, and writes the summary
    and the SBOMs into `options.out_dir`/<version>/."""
    client = credentials = None
    if options.registry is not None:
        try:
            client, credentials = client_for(options.registry.host, options.credentials, runner, client_factory)
        except RegistryError as exc:
            if not runner.dry_run:
                raise
            out(f"dry run: the release would refuse: {exc}")
            return ()
    plan = plan_release(settings, matrix, options, runner=runner, client=client)
    for line in format_plan(plan):
        out(line)
    if plan.all_problems():
        if runner.dry_run:
            out(f"dry run: a release of apache-airflow {plan.version} would refuse, before building anything:")
            for problem in plan.all_problems():
                out(f"  - {problem}")
            return ()
        raise ReleaseRefused(_refusal(plan))
    if options.signer is not None:
        check_signer(options.signer, runner)

    to_build = [f for f in plan.flavours if f.action == BUILD]
    platforms = release_platforms(settings, options)
    built = {
        (f.exact, platform): build_image(
            settings,
            matrix,
            _build_options(options, plan.version, f.python, f.variant,
                           _platform_ref(plan, f.exact, platform, platforms), platform),
            runner,
        )
        for f in to_build
        for platform in platforms
    }  # fmt: skip
    failed = [
        f.name + (f" on {platform}" if len(platforms) > 1 else "")
        for f in to_build
        for platform in platforms
        if not run_image_tests(settings, built[f.exact, platform], options, runner)
    ]
    if failed:
        raise ImageTestsFailed(
            f"image tests failed for {', '.join(failed)} of apache-airflow {plan.version}; nothing was pushed"
        )
    # generated before anything is pushed: a failure here leaves the registry untouched
    sboms, sbom_seconds = generate_sboms(built, runner)
    if runner.dry_run and built:
        out(f"(dry run) generate the SBOM of each of the {len(built)} image(s) built, before pushing anything")

    results: list[TagResult] = []
    with push_environment(runner, options.registry.host, credentials, options.credentials) as env:
        for flavour in plan.flavours:
            results += _publish(plan, flavour, client, runner, env, out)
        if runner.dry_run:
            return ()
        folder = options.out_dir / plan.version if options.out_dir is not None else None
        notes: list[str] = []
        pushed = [(f, next(r.digest for r in results if r.ref == plan.ref(f.exact))) for f in to_build]
        published = {
            f.exact: publish_sboms(client, plan.repository, digest,
                                   {p: doc for (exact, p), doc in sboms.items() if exact == f.exact},
                                   name=f.exact, out_dir=folder, out=notes.append)
            for f, digest in pushed
        }  # fmt: skip
        signing = None
        if options.signer is not None:
            started = time.monotonic()
            steps = sign_pushed(options.signer, client,
                                [(plan.ref(f.exact).rpartition(":")[0], digest, published[f.exact])
                                 for f, digest in pushed], runner=runner, env=env)  # fmt: skip
            signing = (steps, sbom_seconds, time.monotonic() - started)
    if options.signer is None and sboms:
        notes.insert(0, f"SBOMs: {len(sboms)} generated from the images built, before the push ({sbom_seconds:.1f} s)")
    skipped = [f for f in plan.flavours if f.action != BUILD]
    notes += [f"{f.exact}: not built by this release, so no new SBOM (the one pushed with its build stays)"
              for f in skipped]
    summary = ["release summary (as read back from the registry):", *format_summary(results), *notes,
               *format_signing(options.signer, signing, skipped=skipped)]  # fmt: skip
    for line in summary:
        out(line)
    if folder is not None:
        out(f"wrote {write_summary(folder, plan, summary)}")
    return tuple(results)


def write_summary(folder: Path, plan: ReleasePlan, lines: list[str]) -> Path:
    """The summary as printed, next to the release's SBOMs; a re-run of the release writes it anew."""
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = folder / SUMMARY_FILE
    path.write_text("\n".join([f"release of apache-airflow {plan.version} to {plan.registry.host}, {when}",
                               *lines]) + "\n")  # fmt: skip
    return path


def _publish(
    plan: ReleasePlan,
    flavour: FlavourPlan,
    client: RegistryClient,
    runner: CommandRunner,
    env: dict[str, str] | None,
    out: Callable[[str], None],
) -> list[TagResult]:
    refs = [plan.ref(t) for t in flavour.tags]
    if flavour.action == SKIP:
        return [read_back(client, plan.ref(s.tag), s.digest, "unchanged") for s in flavour.states]
    if flavour.action == COPY:
        source = copy_source(flavour)
        manifest = client.get_manifest(plan.repository, source.digest)
        results = []
        for state in flavour.states:
            if state.status == CURRENT:
                results.append(read_back(client, plan.ref(state.tag), state.digest, "unchanged"))
            elif runner.dry_run:
                out(f"(dry run) point {plan.ref(state.tag)} at {source.digest} (the manifest of {source.tag})")
            else:
                client.put_manifest(plan.repository, state.tag, manifest)
                results.append(read_back(client, plan.ref(state.tag), manifest.digest, "copied"))
        return results
    if len(flavour.platform_requests) > 1:
        return _publish_index(plan, flavour, client, runner, env)
    tag_image(runner, refs[0], tuple(refs[1:]))
    pushed = [(ref, push_image(runner, ref, env=env)) for ref in refs]
    return [] if runner.dry_run else [read_back(client, ref, digest, "pushed") for ref, digest in pushed]


def _publish_index(
    plan: ReleasePlan, flavour: FlavourPlan, client: RegistryClient, runner: CommandRunner, env: dict[str, str] | None
) -> list[TagResult]:
    platform_refs = [(r.tags[0], r.platforms[0]) for r in flavour.platform_requests]
    refs = [plan.ref(flavour.exact), *(plan.ref(t) for t in flavour.tags if t != flavour.exact)]
    return push_index(client, plan.repository, platform_refs, refs, runner=runner, env=env, action="pushed")
