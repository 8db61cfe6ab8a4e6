"""Project settings: `[tool.airflow-image]` in pyproject.toml, read once into a frozen dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

DEFAULT_EXTRAS_KEYWORD = "default"


@dataclass(frozen=True)
class CiImage:
    """One image CI builds and tests for real."""

    python: str
    extras: tuple[str, ...]  # empty tuple: Airflow core only
    uses_default_extras: bool
    variant: str = "regular"
    # (): the engine's own platform; several: one multi-platform image under one tag, tested per platform
    platforms: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Short, tag-safe name of the image, used in CI image tags."""
        if self.variant == "slim":
            name = "slim"
        else:
            name = "default" if self.uses_default_extras else ("-".join(self.extras) or "core")
        return "-".join((name, *(p.rpartition("/")[2] for p in self.platforms)))


@dataclass(frozen=True)
class ProjectSettings:
    root: Path
    default_python: str
    image_name: str
    default_extras: tuple[str, ...]
    base_image_template: str
    standin_base_image_templates: tuple[str, ...]
    build_network: str | None
    lock_platforms: tuple[tuple[str, str], ...]  # (image platform, uv's --python-platform); first: the main lock
    release_platforms: tuple[str, ...]
    lock_constraints: tuple[str, ...]
    source_url: str
    ci_images: tuple[CiImage, ...]

    @property
    def matrix_path(self) -> Path:
        return self.root / "data" / "airflow-versions.json"

    @property
    def constraints_dir(self) -> Path:
        return self.root / "constraints"

    @property
    def dockerfile(self) -> Path:
        return self.root / "Dockerfile"

    @property
    def lock_platform(self) -> str:
        """The resolver platform of the main lock (constraints-X.Y.txt); other platforms get a lock
        of their own only where their resolution differs."""
        return self.lock_platforms[0][1]

    def base_image(self, python: str) -> str:
        return self.base_image_template.format(python=python)

    def standin_base_images(self, python: str) -> tuple[str, ...]:
        return tuple(t.format(python=python) for t in self.standin_base_image_templates)


def _require(table: dict, key: str, kind: type, path: Path):
    if key not in table:
        raise ConfigError(f"{path}: [tool.airflow-image] has no {key!r}")
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(f"{path}: [tool.airflow-image].{key} must be a {kind.__name__}, got {value!r}")
    return value


SUPPORTED_PLATFORMS = ("linux/amd64", "linux/arm64")


def _platform(value: object, what: str, path: Path) -> str:
    if value not in SUPPORTED_PLATFORMS:
        raise ConfigError(f"{path}: {what} {value!r} is not one of: {', '.join(SUPPORTED_PLATFORMS)}")
    return str(value)


def _ci_image(entry: dict, default_extras: tuple[str, ...], path: Path) -> CiImage:
    extras = entry.get("extras", [])
    variant = entry.get("variant", "regular")
    if variant not in ("regular", "slim"):
        raise ConfigError(f"{path}: ci-images variant must be regular or slim, got {variant!r}")
    platforms = entry.get("platforms", [])
    if not isinstance(platforms, list) or len(set(platforms)) != len(platforms):
        raise ConfigError(f"{path}: ci-images platforms must be a list of distinct platforms, got {platforms!r}")
    common = {
        "python": str(entry["python"]),
        "variant": variant,
        "platforms": tuple(_platform(p, "ci-images platform", path) for p in platforms),
    }
    if extras == DEFAULT_EXTRAS_KEYWORD:
        return CiImage(extras=default_extras, uses_default_extras=True, **common)
    if not isinstance(extras, list):
        raise ConfigError(f'{path}: ci-images extras must be a list or "default", got {extras!r}')
    return CiImage(extras=tuple(extras), uses_default_extras=False, **common)


def _lock_platforms(table: dict, path: Path) -> tuple[tuple[str, str], ...]:
    platforms = _require(table, "lock-platforms", dict, path)
    if not platforms:
        raise ConfigError(f"{path}: [tool.airflow-image].lock-platforms is empty")
    return tuple((_platform(k, "lock-platforms key", path), str(v)) for k, v in platforms.items())


def load_settings(root: Path) -> ProjectSettings:
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run from the repository root") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("airflow-image")
    if not isinstance(table, dict):
        raise ConfigError(f"{path} has no [tool.airflow-image] table")
    default_extras = tuple(_require(table, "default-extras", list, path))
    network = table.get("build-network") or None
    return ProjectSettings(
        root=root,
        default_python=_require(table, "default-python", str, path),
        image_name=_require(table, "image-name", str, path),
        default_extras=default_extras,
        base_image_template=_require(table, "base-image", str, path),
        standin_base_image_templates=tuple(table.get("standin-base-images", [])),
        build_network=network,
        lock_platforms=_lock_platforms(table, path),
        release_platforms=tuple(
            _platform(p, "release-platforms entry", path) for p in _require(table, "release-platforms", list, path)
        ),
        lock_constraints=tuple(table.get("lock-constraints", [])),
        source_url=_require(table, "source-url", str, path),
        ci_images=tuple(_ci_image(e, default_extras, path) for e in table.get("ci-images", [])),
    )
