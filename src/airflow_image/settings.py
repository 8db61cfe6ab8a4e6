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

    @property
    def label(self) -> str:
        """Short, tag-safe name of the image, used in CI image tags."""
        if self.variant == "slim":
            return "slim"
        return "default" if self.uses_default_extras else ("-".join(self.extras) or "core")


@dataclass(frozen=True)
class ProjectSettings:
    root: Path
    default_python: str
    image_name: str
    default_extras: tuple[str, ...]
    base_image_template: str
    standin_base_image_templates: tuple[str, ...]
    build_network: str | None
    lock_platform: str
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


def _ci_image(entry: dict, default_extras: tuple[str, ...], path: Path) -> CiImage:
    extras = entry.get("extras", [])
    variant = entry.get("variant", "regular")
    if variant not in ("regular", "slim"):
        raise ConfigError(f"{path}: ci-images variant must be regular or slim, got {variant!r}")
    if extras == DEFAULT_EXTRAS_KEYWORD:
        return CiImage(python=str(entry["python"]), extras=default_extras, uses_default_extras=True, variant=variant)
    if not isinstance(extras, list):
        raise ConfigError(f'{path}: ci-images extras must be a list or "default", got {extras!r}')
    return CiImage(python=str(entry["python"]), extras=tuple(extras), uses_default_extras=False, variant=variant)


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
        lock_platform=_require(table, "lock-platform", str, path),
        lock_constraints=tuple(table.get("lock-constraints", [])),
        source_url=_require(table, "source-url", str, path),
        ci_images=tuple(_ci_image(e, default_extras, path) for e in table.get("ci-images", [])),
    )
