"""Build speed, rebuild speed, image size and start-up, measured in one run on one host.

"Cold" means: no layer cache (`--no-cache`) and empty download/wheel caches, obtained by salting
every cache mount's id for this run (CACHE_SALT) rather than pruning the engine's shared cache.
After the run, only the cache records this run made are pruned.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .build import BuildOptions, build_image
from .engine import inspect_image, unpacked_size
from .errors import AirflowImageError
from .matrix import VersionMatrix
from .runner import CommandRunner
from .settings import ProjectSettings

# A small, pure-Python requirement that no lock pins: "add one requirement".
ADDED_REQUIREMENT = "cowsay==6.1"
# A small runtime package the image does not have: "change one runtime apt package".
ADDED_APT_PACKAGE = "jq"


@dataclass(frozen=True)
class Targets:
    cold_build_s: float = 100.0
    add_requirement_s: float = 15.0
    noop_rebuild_s: float = 3.0
    image_bytes: int = 1_950_000_000
    airflow_version_s: float = 1.6
    second_flavour_ratio: float = 0.75


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    unit: str
    command: str
    target: float | None = None

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target


@dataclass(frozen=True)
class BenchmarkResult:
    python: str
    second_python: str | None
    extras: tuple[str, ...]
    salt: str
    measurements: tuple[Measurement, ...]
    site_packages_mb: tuple[tuple[str, int], ...] = field(default=())

    def to_json(self) -> str:
        body = asdict(self)
        body["measurements"] = [{**asdict(m), "met": m.met} for m in self.measurements]
        return json.dumps(body, indent=2) + "\n"


def format_table(result: BenchmarkResult) -> str:
    rows = [("measurement", "value", "target", "met", "command")]
    for m in result.measurements:
        target = "" if m.target is None else f"<= {m.target:g} {m.unit}"
        met = "" if m.met is None else ("yes" if m.met else "NO")
        rows.append((m.name, f"{m.value:,.2f} {m.unit}", target, met, m.command))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:4])) + "  " + r[4] for r in rows]
    if result.site_packages_mb:
        lines += [
            "",
            "largest site-packages entries (MB): " + ", ".join(f"{name} {mb}" for name, mb in result.site_packages_mb),
        ]
    return "\n".join(lines)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _build_command(options: BuildOptions) -> str:
    parts = [f"nox -s build_prod-{options.python} --"]
    if options.extras is not None:
        parts.append(f"--extras {','.join(options.extras) or chr(39) * 2}")
    if options.no_cache:
        parts.append("--no-cache")
    if options.additional_python_deps:
        parts.append(f"--additional-python-deps {' '.join(options.additional_python_deps)}")
    if options.additional_runtime_apt_deps:
        parts.append(f"--additional-runtime-apt-deps {' '.join(options.additional_runtime_apt_deps)}")
    return " ".join(parts) + (f"  (CACHE_SALT={options.cache_salt})" if options.cache_salt else "")


def run_benchmark(
    settings: ProjectSettings,
    matrix: VersionMatrix,
    runner: CommandRunner,
    *,
    python: str,
    extras: tuple[str, ...] | None,
    second_python: str | None,
    ca_bundle: Path | None,
    runs: int = 5,
    targets: Targets = Targets(),
) -> BenchmarkResult:
    salt = "-bench-" + uuid.uuid4().hex[:10]
    tag = f"{settings.image_name}-bench:{python}"
    base = BuildOptions(python=python, extras=extras, ca_bundle=ca_bundle, cache_salt=salt, tags=(tag,))
    measurements: list[Measurement] = []

    def build(name: str, options: BuildOptions, target: float | None = None) -> float:
        seconds = _timed(lambda: build_image(settings, matrix, options, runner))
        measurements.append(Measurement(name, seconds, "s", _build_command(options), target))
        return seconds

    try:
        cold = build("cold build", replace(base, no_cache=True), targets.cold_build_s)
        build("no-op rebuild", base, targets.noop_rebuild_s)
        build(
            "rebuild, one requirement added",
            replace(base, additional_python_deps=(ADDED_REQUIREMENT,)),
            targets.add_requirement_s,
        )
        build(
            "rebuild, one runtime apt package changed",
            replace(
                base, additional_python_deps=(ADDED_REQUIREMENT,), additional_runtime_apt_deps=(ADDED_APT_PACKAGE,)
            ),
        )
        build("no-op rebuild of the base options again", base)  # leaves `tag` as the plain image
        image = inspect_image(runner, tag)
        if image is None:
            raise AirflowImageError(f"the benchmark image {tag} is missing after its build")
        inspect = f"docker image inspect {tag}"
        du = f"docker run --rm --user 0 --entrypoint du {tag} -sxb /"
        measurements += [
            Measurement("image size", unpacked_size(runner, tag) / 1e6, "MB", du, targets.image_bytes / 1e6),
            # under the containerd image store: the compressed layers a node downloads
            Measurement("pull size", image.size / 1e6, "MB", inspect),
            Measurement("layers", image.layers, "", inspect),
            Measurement(
                "Python distributions",
                _distribution_count(runner, tag),
                "",
                f"docker run --rm {tag} python -c '<count importlib.metadata distributions>'",
            ),
        ]
        times = [
            _timed(lambda: runner.run(["docker", "run", "--rm", tag, "airflow", "version"], capture=True, quiet=True))
            for _ in range(runs)
        ]
        measurements.append(
            Measurement(
                f"airflow version (median of {runs})",
                statistics.median(times),
                "s",
                f"docker run --rm {tag} airflow version",
                targets.airflow_version_s,
            )
        )
        if second_python:
            second = replace(
                base, python=second_python, no_cache=True, tags=(f"{settings.image_name}-bench:{second_python}",)
            )
            seconds = build(f"second flavour ({second_python}) cold layers, shared caches", second)
            measurements.append(
                Measurement(
                    "second flavour / first flavour",
                    seconds / cold,
                    "x",
                    "ratio of the two cold builds above",
                    targets.second_flavour_ratio,
                )
            )
        top = _site_packages_top(runner, tag)
    finally:
        prune_salted_cache(runner, salt)
    return BenchmarkResult(
        python=python,
        second_python=second_python,
        extras=extras or settings.default_extras,
        salt=salt,
        measurements=tuple(measurements),
        site_packages_mb=top,
    )


def _distribution_count(runner: CommandRunner, tag: str) -> int:
    script = "import importlib.metadata as m; print(len({d.metadata['Name'].lower() for d in m.distributions()}))"
    out = runner.run(
        ["docker", "run", "--rm", "--network", "none", tag, "python", "-c", script], capture=True, quiet=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def _site_packages_top(runner: CommandRunner, tag: str, *, count: int = 12) -> tuple[tuple[str, int], ...]:
    script = (
        "cd $(python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])') && "
        f"du -sm -- * | sort -rn | head -n {count}"
    )
    out = runner.run(
        ["docker", "run", "--rm", "--network", "none", tag, "bash", "-c", script], capture=True, quiet=True
    )
    rows = (line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)
    return tuple((name, int(mb)) for mb, name in rows)


def prune_salted_cache(runner: CommandRunner, salt: str) -> None:
    """Removes the cache mounts this run created, and nothing else."""
    runner.run(
        ["docker", "buildx", "prune", "--force", "--filter", f"description~={salt}"],
        check=False,
        capture=True,
        quiet=True,
    )
