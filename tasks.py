"""Release-side tasks (invoke). Each task parses its arguments and calls one package function;
typed errors from the package become one line on stderr and exit code 1.

    invoke --list
"""

from __future__ import annotations

import os
import sys
from functools import wraps
from pathlib import Path

from invoke import Collection, Exit, task

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from airflow_image.errors import AirflowImageError  # noqa: E402
from airflow_image.matrix import load_matrix  # noqa: E402
from airflow_image.refresh import update_lock, update_matrix  # noqa: E402
from airflow_image.runner import SubprocessRunner  # noqa: E402
from airflow_image.settings import load_settings  # noqa: E402


def one_line_errors(func):
    """Turns the package's typed errors into `error: …` and exit code 1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AirflowImageError as exc:
            raise Exit(f"error: {exc}", code=1) from None

    return wrapper


@task(name="update-matrix", help={"full": "re-read every version, not only the ones missing from the file"})
@one_line_errors
def update_matrix_task(c, full=False):
    """Refresh data/airflow-versions.json from the package index's metadata."""
    settings = load_settings(ROOT)
    matrix = update_matrix(settings, os.environ, full=full)
    print(f"{len(matrix.releases)} versions; default {matrix.default_release().version}; wrote {settings.matrix_path}")


@task(
    name="update-locks",
    iterable=["python"],
    help={
        "version": "Airflow version (default: the newest stable)",
        "python": "flavour(s) (default: all)",
        "dry_run": "print the resolver command only",
    },
)
@one_line_errors
def update_locks(c, version=None, python=None, dry_run=False):
    """Resolve and write constraints/<version>/constraints-<python>.txt with uv."""
    settings = load_settings(ROOT)
    matrix = load_matrix(settings.matrix_path)
    release = matrix.get(version) if version else matrix.default_release()
    runner = SubprocessRunner(dry_run=dry_run)
    for flavour in python or release.pythons:
        path = update_lock(settings, matrix, runner, airflow_version=release.version, python=flavour)
        print(f"{'would write' if dry_run else 'wrote'} {path.relative_to(ROOT)}")


ns = Collection(update_matrix_task, update_locks)
ns.configure({"run": {"echo": True}})
