"""Refreshing the generated data: the version matrix (from the index) and the constraint locks."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import requests

from .errors import AirflowImageError, MissingLock
from .index_config import simple_index_url
from .locks import debian_arch, lock_compile_command, lock_header, lock_path, lock_requirements
from .matrix import PACKAGE, VersionMatrix, load_matrix
from .pypi_index import IndexMetadataReader, matrix_from_index
from .runner import CommandRunner
from .settings import ProjectSettings


def update_matrix(settings: ProjectSettings, environ: Mapping[str, str], *, full: bool = False) -> VersionMatrix:
    """Re-reads the index; versions already in the committed matrix are kept unless `full`."""
    session = requests.Session()
    reader = IndexMetadataReader(session)
    simple = reader.simple_page(simple_index_url(environ), PACKAGE)
    known = None if full or not settings.matrix_path.exists() else load_matrix(settings.matrix_path)
    matrix = matrix_from_index(simple, reader, preferred_python=settings.default_python, known=known)
    settings.matrix_path.parent.mkdir(parents=True, exist_ok=True)
    settings.matrix_path.write_text(matrix.to_json())
    return matrix


def uv_binary() -> str:
    found = shutil.which("uv")
    if found is None:
        raise MissingLock("uv is not on PATH; install the dev extras (`pip install -e .[dev]`) to refresh locks")
    return found


def update_lock(
    settings: ProjectSettings, matrix: VersionMatrix, runner: CommandRunner, *, airflow_version: str, python: str
) -> list[Path]:
    """Resolves the lock for every lock platform; writes the main lock, and a platform's own lock only
    where its resolution differs (removing one that no longer differs). Old locks stay if resolution fails."""
    release = matrix.check_python(airflow_version, python)
    main = lock_path(settings.constraints_dir, release.version, python)
    with tempfile.TemporaryDirectory() as tmp:
        known_breakages = Path(tmp) / "lock-constraints.txt"
        known_breakages.write_text("".join(f"{c}\n" for c in settings.lock_constraints))
        bodies: list[tuple[str, str, str]] = []
        for platform, resolver_platform in settings.lock_platforms:
            resolved = Path(tmp) / f"lock-{debian_arch(platform)}.txt"
            runner.run(
                lock_compile_command(uv_binary(), resolved, python, resolver_platform,
                                     constraints_file=known_breakages if settings.lock_constraints else None),
                input=lock_requirements(release.version, settings.default_extras),
            )
            if runner.dry_run:
                continue
            body = resolved.read_text()
            if f"apache-airflow=={release.version}" not in body:
                raise AirflowImageError(
                    f"the resolved lock for {release.version}/{python} on {platform} does not pin apache-airflow"
                )
            bodies.append((platform, resolver_platform, body))
    if runner.dry_run:
        return [main]
    written = []
    (_, main_resolver, main_body), others = bodies[0], bodies[1:]
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_text(lock_header(release.version, python, main_resolver, settings.default_extras) + main_body)
    written.append(main)
    for platform, resolver_platform, body in others:
        own = lock_path(settings.constraints_dir, release.version, python, arch=debian_arch(platform))
        if body == main_body:
            own.unlink(missing_ok=True)
            continue
        own.write_text(lock_header(release.version, python, resolver_platform, settings.default_extras) + body)
        written.append(own)
    return written
