"""The image naming convention, as one pure function of the release situation.

Regular images:
  X.Y.Z-pythonA.B always, and X.Y.Z for the default flavour;
  X.Y-pythonA.B / X.Y only while X.Y.Z is the newest release of its X.Y line;
  latest-pythonA.B / latest only while X.Y.Z is the newest stable release overall;
  pre-releases (rc, beta, alpha, dev) get their exact tags only;
  builds of the main branch get main-pythonA.B / main.
The slim variant gets the same names with a `slim-` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .errors import InvalidBuildOption

_DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class TagInputs:
    airflow_version: str
    python: str
    default_python: str
    variant: str = "regular"
    main_build: bool = False
    released_versions: tuple[str, ...] = ()


def _is_stable(version: Version) -> bool:
    return not (version.is_prerelease or version.is_devrelease)


def _parse(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise InvalidBuildOption(
            f"{version!r} is not a valid Airflow version (PEP 440, e.g. 3.3.2 or 3.4.0rc1)"
        ) from None


def _pair(name: str, python: str, is_default: bool) -> list[str]:
    return [f"{name}-python{python}"] + ([name] if is_default else [])


def image_tags(inputs: TagInputs) -> tuple[str, ...]:
    prefix = "slim-" if inputs.variant == "slim" else ""
    is_default = inputs.python == inputs.default_python
    if inputs.main_build:
        names = _pair("main", inputs.python, is_default)
    else:
        this = _parse(inputs.airflow_version)
        names = _pair(inputs.airflow_version, inputs.python, is_default)
        if _is_stable(this):
            stable = [v for v in (_parse(r) for r in inputs.released_versions) if _is_stable(v)] + [this]
            same_line = [v for v in stable if v.release[:2] == this.release[:2]]
            if this >= max(same_line):
                names += _pair(f"{this.major}.{this.minor}", inputs.python, is_default)
            if this >= max(stable):
                names += _pair("latest", inputs.python, is_default)
    tags = tuple(prefix + n for n in names)
    for tag in tags:
        if not _DOCKER_TAG.match(tag):
            raise InvalidBuildOption(f"{tag!r} is not a valid Docker tag")
    return tags


def exact_tag(airflow_version: str, python: str, *, variant: str = "regular") -> str:
    """The one tag every image has, whatever else is released."""
    return ("slim-" if variant == "slim" else "") + f"{airflow_version}-python{python}"


def released_versions(versions: Iterable[str], *, yanked: Iterable[str] = ()) -> tuple[str, ...]:
    skip = set(yanked)
    return tuple(v for v in versions if v not in skip)
