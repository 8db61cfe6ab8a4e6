"""Chart versions, packaging and OCI publishing.

The default Airflow version has one source, the version matrix (data/airflow-versions.json, newest
stable release) together with `[tool.airflow-image]` in pyproject.toml (image name, default Python).
The committed Chart.yaml appVersion and the values.yaml image defaults must agree with it
(`chart_version_drift`, tested), and `package_chart` stamps them into the archive it builds.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..matrix import load_matrix
from ..settings import load_settings
from . import chart_dir

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class ChartDefaults:
    """What the chart's defaults must say, from the one data source."""

    app_version: str
    image_repository: str
    image_tag: str


def expected_defaults(root: Path) -> ChartDefaults:
    settings = load_settings(root)
    release = load_matrix(settings.matrix_path).default_release()
    python = settings.default_python if settings.default_python in release.pythons else release.default_python
    return ChartDefaults(
        app_version=release.version,
        image_repository=settings.image_name,
        image_tag=f"{release.version}-python{python}",
    )


def committed_defaults(chart: Path) -> ChartDefaults:
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    image = yaml.safe_load((chart / "values.yaml").read_text())["image"]
    return ChartDefaults(
        app_version=str(metadata["appVersion"]),
        image_repository=str(image["repository"]),
        image_tag=str(image["tag"]),
    )


def chart_version_drift(root: Path) -> list[str]:
    """One line per committed chart default that disagrees with the data source."""
    want, have = expected_defaults(root), committed_defaults(chart_dir(root))
    return [
        f"{field}: chart has {getattr(have, field)!r}, the version matrix and settings say {getattr(want, field)!r}"
        for field in ("app_version", "image_repository", "image_tag")
        if getattr(want, field) != getattr(have, field)
    ]


def _set_top_level_scalar(text: str, key: str, value: str) -> str:
    pattern = re.compile(rf"^{re.escape(key)}:.*$", re.MULTILINE)
    if not pattern.search(text):
        raise ConfigError(f"Chart.yaml has no top-level {key!r}")
    return pattern.sub(f"{key}: {value!s}", text, count=1)


def _set_image_default(text: str, field: str, value: str) -> str:
    """Rewrite `image.<field>` in values.yaml in place, keeping every comment."""
    block = re.search(r"^image:\n((?:[ \t]+.*\n|[ \t]*\n)*)", text, re.MULTILINE)
    if block is None:
        raise ConfigError("values.yaml has no top-level image: block")
    body = block.group(1)
    line = re.compile(rf"^(  {re.escape(field)}:).*$", re.MULTILINE)
    if not line.search(body):
        raise ConfigError(f"values.yaml image: block has no {field!r}")
    new_body = line.sub(
        lambda m: f'{m.group(1)} "{value}"' if field == "tag" else f"{m.group(1)} {value}", body, count=1
    )
    return text[: block.start(1)] + new_body + text[block.end(1) :]


def stamp_chart(chart: Path, *, version: str | None, defaults: ChartDefaults) -> None:
    """Write version, appVersion and the image defaults into a chart directory."""
    chart_yaml = chart / "Chart.yaml"
    text = chart_yaml.read_text()
    if version is not None:
        text = _set_top_level_scalar(text, "version", version)
    text = _set_top_level_scalar(text, "appVersion", f'"{defaults.app_version}"')
    chart_yaml.write_text(text)
    values = chart / "values.yaml"
    text = _set_image_default(values.read_text(), "repository", defaults.image_repository)
    values.write_text(_set_image_default(text, "tag", defaults.image_tag))


def sync_chart_defaults(root: Path) -> list[str]:
    """Make the committed chart agree with the data source; returns what changed (as drift lines)."""
    drift = chart_version_drift(root)
    if drift:
        stamp_chart(chart_dir(root), version=None, defaults=expected_defaults(root))
    return drift


def package_chart(
    chart: Path,
    out_dir: Path,
    *,
    version: str | None = None,
    app_version: str | None = None,
    image_tag: str | None = None,
    image_repository: str | None = None,
) -> Path:
    """Package `chart` into `out_dir`/NAME-VERSION.tgz and return its path.

    The chart is copied first, so the working tree is never touched. `app_version` (and the image
    tag that goes with it) replace the committed defaults in the archive only.
    """
    import helm_python

    if version is not None and not _SEMVER.match(version):
        raise ConfigError(f"chart version {version!r} is not SemVer (e.g. 1.2.3)")
    have = committed_defaults(chart)
    defaults = ChartDefaults(
        app_version=app_version or have.app_version,
        image_repository=image_repository or have.image_repository,
        image_tag=image_tag or have.image_tag,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chart-stage-") as stage:
        staged = Path(stage) / chart.name
        shutil.copytree(chart, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        stamp_chart(staged, version=version, defaults=defaults)
        return Path(helm_python.package(staged, destination=out_dir))


def package_default_chart(root: Path, out_dir: Path, *, version: str | None = None) -> Path:
    """`invoke chart-package`: the committed chart with the data source's defaults."""
    want = expected_defaults(root)
    return package_chart(
        chart_dir(root),
        out_dir,
        version=version,
        app_version=want.app_version,
        image_tag=want.image_tag,
        image_repository=want.image_repository,
    )


def push_chart(
    archive: Path,
    registry_ref: str,
    *,
    plain_http: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """Push a packaged chart to an OCI registry (`oci://host[:port]/path`); returns the pushed
    reference `oci://host/path/NAME:VERSION`."""
    import helm_python

    if not registry_ref.startswith("oci://"):
        raise ConfigError(f"registry reference {registry_ref!r} must start with oci://")
    with helm_python.Chart.load(archive) as chart:
        name, version = chart.name, chart.version
    # Credentials go to a throwaway file, never into the user's own Helm registry config.
    with (
        tempfile.TemporaryDirectory(prefix="chart-push-") as scratch,
        helm_python.RegistryClient(plain_http=plain_http, credentials_file=Path(scratch) / "config.json") as client,
    ):
        if username is not None:
            host = registry_ref[len("oci://") :].split("/", 1)[0]
            client.login(host, username, password or "", plain_http=plain_http)
        client.push(archive, registry_ref.rstrip("/"), plain_http=plain_http)
    return f"{registry_ref.rstrip('/')}/{name}:{version}"


def pull_chart(reference: str, version: str, destination: Path, *, plain_http: bool = False) -> Path:
    """Pull `oci://host/path/NAME` at `version` into `destination`; returns the archive path."""
    import helm_python

    destination.mkdir(parents=True, exist_ok=True)
    with helm_python.RegistryClient(plain_http=plain_http) as client:
        client.pull(reference, version=version, destination=destination, plain_http=plain_http)
    name = reference.rstrip("/").rsplit("/", 1)[-1]
    archive = destination / f"{name}-{version}.tgz"
    if not archive.is_file():
        raise ConfigError(f"pulling {reference}:{version} produced no {archive.name} in {destination}")
    return archive
