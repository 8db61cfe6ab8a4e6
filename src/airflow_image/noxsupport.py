"""What the nox sessions do, so that noxfile.py only registers sessions and forwards to here.

Typed errors become `session.error(message)`: one line, non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .benchmark import format_table, run_benchmark
from .build import BuildOptions, build_image, fill_context_files
from .cli_options import ENV_AIRFLOW_VERSION, ca_bundle_from, parse_build_options
from .engine import inspect_image
from .errors import AirflowImageError, InvalidBuildOption, UnsupportedPython
from .image_tests import image_test_args, with_test_workers
from .matrix import AirflowRelease, VersionMatrix, load_matrix
from .runner import SubprocessRunner, TranscriptRunner
from .settings import CiImage, ProjectSettings, load_settings
from .tags import exact_tag

# Packages the image-test sessions install next to the project itself.
IMAGE_TEST_DEPS = ("pytest>=8", "pytest-xdist>=3.6")
PER_FLAVOUR_SESSIONS = ("build_prod", "test_prod", "benchmark", "air_gapped")
# A flavour whose base image every CI host can make (dev/setup-host.sh).
SMOKE_PYTHON = "3.11"


@dataclass(frozen=True)
class NoxProject:
    settings: ProjectSettings
    matrix: VersionMatrix
    release: AirflowRelease


def load_project(root: Path, environ: Mapping[str, str]) -> NoxProject:
    settings = load_settings(root)
    matrix = load_matrix(settings.matrix_path)
    version = environ.get(ENV_AIRFLOW_VERSION)
    release = matrix.get(version) if version else matrix.default_release()
    return NoxProject(settings=settings, matrix=matrix, release=release)


def unsupported_session_request(argv: Sequence[str], release: AirflowRelease) -> UnsupportedPython | None:
    """A per-flavour session named on the command line for a flavour this version lacks.

    nox would only say "session not found"; this names the flavours that exist instead.
    """
    names: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("-s", "--session", "--sessions", "-e") and i + 1 < len(args):
            names.extend(args[i + 1 :])
        elif arg.startswith(("--session=", "--sessions=")):
            names.append(arg.split("=", 1)[1])
    pattern = re.compile(rf"^(?:{'|'.join(PER_FLAVOUR_SESSIONS)})-(\d+\.\d+)$")
    for name in names:
        if name.startswith("-"):
            break
        match = pattern.match(name)
        if match and match.group(1) not in release.pythons:
            return UnsupportedPython(match.group(1), airflow_version=release.version, supported=release.pythons)
    return None


def _runner(session: Any) -> SubprocessRunner:
    return SubprocessRunner(echo=session.log)


def _default_ref(project: NoxProject, options: BuildOptions) -> str:
    tag = exact_tag(project.release.version, options.python or project.release.default_python, variant=options.variant)
    return f"{project.settings.image_name}:{tag}"


def build_prod(session: Any, project: NoxProject, python: str) -> None:
    try:
        options, image, rest = parse_build_options(session.posargs, python=python, environ=os.environ)
        if rest or image:
            raise InvalidBuildOption(f"unknown build option(s): {' '.join(rest or ['--image'])}")
        request = build_image(project.settings, project.matrix, options, _runner(session))
    except AirflowImageError as exc:
        session.error(str(exc))
    session.log(f"built image: {' '.join(request.tags)}")


def _install_test_deps(session: Any) -> None:
    session.install("-e", ".", *IMAGE_TEST_DEPS)


def _image_test_argvs(
    project: NoxProject, options: BuildOptions, *, ref: str, python: str, extras: Sequence[str]
) -> list[list[str]]:
    """The image suite's arguments for an image built with `options`: one run per platform, since each
    platform of a multi-platform image is a different image behind one tag."""
    return [
        image_test_args(
            image=ref,
            airflow_version=project.release.version,
            python=python,
            extras=extras,
            variant=options.variant,
            ca_bundle=options.ca_bundle,
            platform=platform,
        )
        for platform in options.platforms or ("",)
    ]


def _run_image_tests(
    session: Any,
    project: NoxProject,
    options: BuildOptions,
    *,
    ref: str,
    python: str,
    extras: Sequence[str],
    pytest_args: Sequence[str],
) -> None:
    if inspect_image(_runner(session), ref) is None:
        session.error(f"image {ref} does not exist; build it first with `nox -s build_prod-{python}`")
    for args in _image_test_argvs(project, options, ref=ref, python=python, extras=extras):
        session.run("pytest", *args, *pytest_args)


def test_prod(session: Any, project: NoxProject, python: str) -> None:
    try:
        options, image, rest = parse_build_options(session.posargs, python=python, environ=os.environ)
    except AirflowImageError as exc:
        session.error(str(exc))
    extras = (
        ()
        if options.variant == "slim"
        else (project.settings.default_extras if options.extras is None else options.extras)
    )
    _install_test_deps(session)
    _run_image_tests(
        session,
        project,
        options,
        ref=image or _default_ref(project, options),
        python=python,
        extras=(*extras, *options.additional_extras),
        pytest_args=rest,
    )


# Two images at a time. A build waits on downloads and on exporting its layers, an image suite on its
# containers: one image after the other, CI's 2-core host sat 30-50% idle through this session (top,
# sampled every 10 s).
CI_IMAGE_LANES = 2


@dataclass(frozen=True)
class CiImageJob:
    ref: str
    options: BuildOptions
    test_extras: tuple[str, ...]


def _ci_image_job(project: NoxProject, image: CiImage) -> CiImageJob:
    ref = f"{project.settings.image_name}-ci:{project.release.version}-python{image.python}-{image.label}"
    options, _, _ = parse_build_options([], python=image.python, environ=os.environ)
    slim = image.variant == "slim"
    options = replace(
        options, extras=None if slim else image.extras, variant=image.variant, tags=(ref,), platforms=image.platforms
    )
    return CiImageJob(ref=ref, options=options, test_extras=() if slim else tuple(image.extras))


def _build_and_test(
    project: NoxProject, job: CiImageJob, *, pytest: str, pytest_args: Sequence[str]
) -> tuple[str, str]:
    """Builds, tests and removes one CI image; returns its transcript and the error ("" if none)."""
    runner = TranscriptRunner()
    try:
        build_image(project.settings, project.matrix, job.options, runner)
        python = job.options.python or project.release.default_python
        for args in _image_test_argvs(project, job.options, ref=job.ref, python=python, extras=job.test_extras):
            runner.run([pytest, *args, *pytest_args])
        # Tested, the image goes; its layers stay in the build cache, where the integration tests that
        # CI runs next find them. Kept, the four images would sit on the disk those tests need.
        runner.run(["docker", "image", "rm", job.ref], capture=True)
    except AirflowImageError as exc:
        return runner.transcript(), str(exc)
    return runner.transcript(), ""


def ci_images(session: Any, project: NoxProject) -> None:
    """Builds and tests the images of [tool.airflow-image] ci-images, two at a time. Each image's commands
    and output are printed as one block when it is done; one that passed is removed, a failed one stays,
    to be looked at."""
    _install_test_deps(session)
    try:
        jobs = [_ci_image_job(project, image) for image in project.settings.ci_images]
        # The most extras first: the longest build starts at once, not after the others.
        jobs.sort(key=lambda job: -len(job.test_extras))
    except AirflowImageError as exc:
        session.error(str(exc))
    pytest, pytest_args = str(Path(session.bin) / "pytest"), with_test_workers(session.posargs)
    failures = []
    with ThreadPoolExecutor(max_workers=CI_IMAGE_LANES) as pool:
        running = {
            pool.submit(_build_and_test, project, job, pytest=pytest, pytest_args=pytest_args): job for job in jobs
        }
        for done in as_completed(running):
            transcript, error = done.result()
            print(transcript, flush=True)
            ref = running[done].ref
            session.log(f"{ref}: {'FAILED: ' + error if error else 'built, tested and removed'}")
            if error:
                failures.append(f"{ref} ({error})")
    if failures:
        session.error(f"{len(failures)} of {len(jobs)} CI images failed: {'; '.join(failures)}")


def benchmark(session: Any, project: NoxProject, python: str, *, smoke: bool = False) -> None:
    """Runs the benchmark; prints the table and writes it as JSON (default out/benchmark-X.Y.json)."""
    parser = argparse.ArgumentParser(prog=f"benchmark-{python}", add_help=False)
    parser.add_argument("--extras", default=None, help="comma-separated extras (default: the production set)")
    parser.add_argument("--second-python", default=None, help="flavour built right after, sharing the caches")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    ns = parser.parse_args(list(session.posargs))
    if smoke:  # small scale: keeps the benchmark working in CI, measures nothing worth quoting
        ns.extras, ns.runs = ns.extras or "postgres", 2
    extras = None if ns.extras is None else tuple(e for e in ns.extras.split(",") if e)
    try:
        result = run_benchmark(
            project.settings,
            project.matrix,
            _runner(session),
            python=python,
            extras=extras,
            second_python=ns.second_python,
            ca_bundle=ca_bundle_from(None, os.environ),
            runs=ns.runs,
        )
    except AirflowImageError as exc:
        session.error(str(exc))
    out = ns.json or project.settings.root / "out" / f"benchmark-{python}{'-smoke' if smoke else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.to_json())
    print(format_table(result))
    session.log(f"wrote {out}")


def air_gapped(session: Any, project: NoxProject, python: str) -> None:
    """Fills a copy of the build context for the given extras (production set by default), then
    builds it with no network at all, and runs the image tests on the result."""
    try:
        options, _, rest = parse_build_options(session.posargs, python=python, environ=os.environ)
    except AirflowImageError as exc:
        session.error(str(exc))
    root = project.settings.root
    ref = f"{project.settings.image_name}-offline:{project.release.version}-python{python}"
    with tempfile.TemporaryDirectory(prefix="air-gapped-") as tmp:
        context = Path(tmp)
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy2(root / name, context / name)
        for name in ("image", "constraints"):
            shutil.copytree(root / name, context / name)
        (context / "docker-context-files").mkdir()
        try:
            fill_context_files(
                project.settings,
                project.matrix,
                replace(options, context=context),
                _runner(session),
                dest=context / "docker-context-files",
            )
            offline = replace(options, context=context, offline=True, tags=(ref,))
            build_image(project.settings, project.matrix, offline, _runner(session))
        except AirflowImageError as exc:
            session.error(str(exc))
    extras = project.settings.default_extras if options.extras is None else options.extras
    _install_test_deps(session)
    _run_image_tests(
        session,
        project,
        options,
        ref=ref,
        python=python,
        extras=(*extras, *options.additional_extras),
        pytest_args=rest,
    )
