"""Refreshing the generated data: the version matrix (from the index) and the constraint locks."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import requests

from .errors import AirflowImageError, MissingLock
from .index_config import simple_index_url
from .locks import lock_compile_command, lock_header, lock_path, lock_requirements
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
) -> Path:
    """Resolves and writes one lock; the old lock stays in place if resolution fails."""
    release = matrix.check_python(airflow_version, python)
    target = lock_path(settings.constraints_dir, release.version, python)
    with tempfile.TemporaryDirectory() as tmp:
        resolved = Path(tmp) / "lock.txt"
        known_breakages = Path(tmp) / "lock-constraints.txt"
        known_breakages.write_text("".join(f"{c}\n" for c in settings.lock_constraints))
        runner.run(
            lock_compile_command(uv_binary(), resolved, python, settings.lock_platform,
                                 constraints_file=known_breakages if settings.lock_constraints else None),
            input=lock_requirements(release.version, settings.default_extras),
        )
        if runner.dry_run:
            return target
        body = resolved.read_text()
        if f"apache-airflow=={release.version}" not in body:
            raise AirflowImageError(f"the resolved lock for {release.version}/{python} does not pin apache-airflow")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(lock_header(release.version, python, settings.lock_platform, settings.default_extras) + body)
    return target
