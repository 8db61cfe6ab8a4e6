"""Where the Python package index is: the user's own pip/uv configuration, else pip's default.

No index host is written into this project: users behind private mirrors get their mirror,
everybody else gets what pip itself would use.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

_ENV_KEYS = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")


def _pip_config_index() -> str | None:
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


def _pip_default_index() -> str:
    # pip's own default, asked of pip rather than written here.
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def simple_index_url(environ: Mapping[str, str]) -> str:
    for key in _ENV_KEYS:
        if environ.get(key):
            return environ[key].rstrip("/") + "/"
    return (_pip_config_index() or _pip_default_index()).rstrip("/") + "/"
