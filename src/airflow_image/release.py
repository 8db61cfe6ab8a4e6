"""Releasing images: plan every flavour, refuse up front what cannot finish, build all, test all,
and only then push all — or nothing. Single-image `tag` and `push` are the steps a release is made of.

Idempotent by build inputs, not digests (rebuilds are not bit-identical): a tag whose image carries
the planned inputs hash is left alone, and a flavour with some tags already current (an interrupted
release) gets its other tags pointed at that same manifest, registry-side, without a rebuild.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .build import BuildOptions, build_image, index_store, plan_build
from .credentials import Credentials, CredentialSources, find_credentials
from .engine import LocalImage, cached_index_reader, host_platform, inspect_image, source_info
from .errors import (
    AirflowImageError,
    CommandFailed,
    ImageTestsFailed,
    RegistryError,
    RegistryMismatch,
    ReleaseRefused,
    SigningError,
)
from .image_tests import image_test_args
from .matrix import VersionMatrix
from .params import BuildRequest
from .registry import RegistryClient, split_ref
from .release_plan import (
    BUILD,
    COPY,
    CURRENT,
    SKIP,
    FlavourPlan,
    Registry,
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
from .sbom import for_digest, image_sbom, validate_sbom
from .settings import ProjectSettings
from .signing import (
    PROVENANCE_TYPE,
    SBOM_TYPE,
    Signer,
    SigningStep,
    key_check_command,
    provenance_predicates,
    pushed_images,
    signing_steps,
)

ClientFactory = Callable[..., RegistryClient]
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_REGISTRY_SIDE_FAILURE = re.compile(
    r"Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|connection reset by peer|unexpected EOF"
)


# -- single images: the steps of a release ------------------------------------------------------------


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


def _client_for(
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
    client, found = _client_for(host, sources, runner, client_factory)
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
        client, found = _client_for(parts.host, credentials, runner, client_factory)
        client.check_access(parts.repository, push=True)
        with push_environment(runner, parts.host, found, credentials) as env:
            digest = push_image(runner, ref, env=env)
        if not runner.dry_run:
            results.append(read_back(client, ref, digest, "pushed"))
    return tuple(results)


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
    client_factory: ClientFactory = RegistryClient,
    out: Callable[[str], None] = print,
) -> tuple[TagResult, ...]:
    """Plans, refuses up front, builds all, tests all, pushes all, reads every tag back; prints plan and summary."""
    client = credentials = None
    if options.registry is not None:
        try:
            client, credentials = _client_for(options.registry.host, options.credentials, runner, client_factory)
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

    sboms = {}
    started = time.monotonic()
    if options.signer is not None and not runner.dry_run:
        # generated before anything is pushed: a failure here leaves the registry untouched
        sboms = {key: _local_sbom(runner, request.tags[0], key[1]) for key, request in built.items()}
    sbom_seconds = time.monotonic() - started

    results: list[TagResult] = []
    with push_environment(runner, options.registry.host, credentials, options.credentials) as env:
        for flavour in plan.flavours:
            results += _publish(plan, flavour, client, runner, env, out)
        signing = None
        if options.signer is not None and not runner.dry_run:
            started = time.monotonic()
            steps = sign_release(plan, to_build, results, sboms, options.signer, client, runner, env)
            signing = (steps, sbom_seconds, time.monotonic() - started)
    if not runner.dry_run:
        out("release summary (as read back from the registry):")
        for line in format_summary(results):
            out(line)
        for line in format_signing(options.signer, signing, skipped=[f for f in plan.flavours if f.action != BUILD]):
            out(line)
    return tuple(results)


# -- signing ----------------------------------------------------------------------------------------------


def check_signer(signer: Signer, runner: CommandRunner) -> None:
    """Opens the key (its password from $COSIGN_PASSWORD) before anything is built or pushed."""
    argv = key_check_command(signer) or ["cosign", "version"]
    result = runner.run(argv, capture=True, check=False, quiet=True, read_only=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise SigningError(f"cannot sign with {signer.key or 'keyless (OIDC)'}: {last}")


def _local_sbom(runner: CommandRunner, ref: str, platform: str) -> dict:
    local = inspect_image(runner, ref)
    return image_sbom(runner, ref, digest="", labels=local.labels if local else {}, platform=platform)


def sign_release(
    plan: ReleasePlan,
    flavours: list[FlavourPlan],
    results: list[TagResult],
    sboms: dict[tuple[str, str], dict],
    signer: Signer,
    client: RegistryClient,
    runner: CommandRunner,
    env: dict[str, str] | None,
) -> list[SigningStep]:
    """Signs the index and every platform image of each flavour built, and attests their SBOMs and
    BuildKit's provenance; returns the steps run."""
    with tempfile.TemporaryDirectory(prefix="airflow-image-attest-") as tmp:
        steps = []
        for flavour in flavours:
            exact_ref = plan.ref(flavour.exact)
            steps += attestation_steps(
                signer,
                client,
                exact_ref.rpartition(":")[0],
                next(r.digest for r in results if r.ref == exact_ref),
                {platform: doc for (exact, platform), doc in sboms.items() if exact == flavour.exact},
                workdir=Path(tmp),
            )
        return run_signing(steps, runner, env=env)


def attestation_steps(
    signer: Signer,
    client: RegistryClient,
    repository_ref: str,
    digest: str,
    sboms: Mapping[str, dict],
    *,
    workdir: Path,
) -> list[SigningStep]:
    """The cosign commands that sign a pushed digest and each platform image behind it and attest their
    SBOMs (`sboms`: platform → document; "" for an image built for the engine's own platform) and
    BuildKit's provenance, with the predicates written to `workdir`."""
    repository = repository_ref.partition("/")[2]
    images = pushed_images(client, repository, digest, platform=next(iter(sboms), ""))
    provenance = provenance_predicates(client, repository, digest)
    predicates = {}
    for image in images:
        if image.digest not in provenance:
            raise SigningError(f"{repository_ref}@{digest} has no BuildKit provenance for {image.platform}; "
                               "builds push it with --provenance=mode=max (containerd image store)")
        document = sboms.get(image.platform) or (sboms.get("") if len(images) == 1 else None)
        if document is None:
            raise SigningError(f"no SBOM was generated for {image.platform} of {repository_ref}@{digest}")
        sbom = for_digest(document, image.digest)
        validate_sbom(sbom)
        stem = f"{image.digest.removeprefix('sha256:')[:16]}-{image.platform.replace('/', '-')}"
        predicates[image.platform, SBOM_TYPE] = _write_json(workdir / f"{stem}.cdx.json", sbom)
        predicates[image.platform, PROVENANCE_TYPE] = _write_json(workdir / f"{stem}.slsa.json",
                                                                  provenance[image.digest])
    return signing_steps(signer, repository_ref, digest, images, predicates)


def run_signing(steps: list[SigningStep], runner: CommandRunner, *, env: dict[str, str] | None) -> list[SigningStep]:
    for step in steps:
        result = runner.run(list(step.argv), capture=True, check=False, env=env)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
            raise SigningError(f"cosign could not add the {step.what} to {step.ref}: {last}")
    return steps


def _write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def format_signing(
    signer: Signer | None, signing: tuple[list[SigningStep], float, float] | None, *, skipped: list[FlavourPlan]
) -> list[str]:
    if signer is None:
        return ["not signed: no --sign-key or --sign-keyless given, so no signatures and no signed SBOM or "
                "provenance attestations (BuildKit's unsigned provenance is attached)"]
    lines = []
    if signing is not None:
        steps, sbom_seconds, seconds = signing
        signatures = sum(1 for s in steps if s.what == "signature")
        lines.append(f"signed {signatures} digests and attached {len(steps) - signatures} attestations "
                     f"(SBOM, provenance) with {signer.key or 'keyless (OIDC)'} in {seconds:.1f} s "
                     f"(SBOMs generated before the push in {sbom_seconds:.1f} s)")
    for flavour in skipped:
        lines.append(f"{flavour.exact}: not built by this release, its signatures are left as they are")
    return lines


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
