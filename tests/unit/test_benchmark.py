from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from airflow_image.benchmark import ADDED_REQUIREMENT, BenchmarkResult, Measurement, format_table, run_benchmark
from airflow_image.runner import Result

INSPECT = json.dumps(
    [
        {
            "Id": "sha256:" + "a" * 64,
            "RepoDigests": [],
            "Size": 650_000_000,  # compressed content under the containerd store
            "RootFS": {"Layers": ["l"] * 9},
            "Config": {"Labels": {}},
            "Architecture": "amd64",
        }
    ]
)


@dataclass
class RecordingRunner:
    """The runner boundary: records every command, answers the read-only ones with canned output."""

    dry_run: bool = False
    calls: list[list[str]] = field(default_factory=list)

    def echo(self, line: str) -> None:
        pass

    def run(self, argv, *, capture=False, check=True, input=None, env=None, cwd=None, quiet=False, read_only=False):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[:3] == ["docker", "image", "inspect"]:
            return Result(tuple(argv), 0, INSPECT)
        if argv[:2] == ["docker", "run"] and argv[-2:] == ["-sxb", "/"]:
            return Result(tuple(argv), 0, "1900000000\t/\n")
        if argv[:2] == ["git", "-C"]:
            return Result(tuple(argv), 0, "c" * 40 + " 2026-11-25T00:00:00+00:00\n")
        if argv[:2] == ["docker", "run"] and "du -sm" in argv[-1]:
            return Result(tuple(argv), 0, "597\tgoogle\n75\tairflow\n")
        if argv[:2] == ["docker", "run"] and "python" in argv:
            return Result(tuple(argv), 0, "431\n")
        return Result(tuple(argv), 0, "3.3.2\n")


def test_benchmark_measures_in_order_on_a_salted_cache_and_prunes_only_that(settings, matrix):
    runner = RecordingRunner()
    result = run_benchmark(
        settings, matrix, runner, python="3.11", extras=("postgres",), second_python="3.13", ca_bundle=None, runs=3
    )
    builds = [c for c in runner.calls if c[:3] == ["docker", "buildx", "build"]]
    assert len(builds) == 6
    salt_args = {a for c in builds for a in c if a.startswith("CACHE_SALT=")}
    assert salt_args == {f"CACHE_SALT={result.salt}"}  # every build, one fresh salt
    assert "--no-cache" in builds[0] and "--no-cache" not in builds[1] and "--no-cache" in builds[5]
    assert f"ADDITIONAL_PYTHON_DEPS={ADDED_REQUIREMENT}" in builds[2]
    assert "ADDITIONAL_RUNTIME_APT_DEPS=jq" in builds[3]
    assert "AIRFLOW_PYTHON_VERSION=3.13" in builds[5]
    assert (
        sum(c[:4] == ["docker", "run", "--rm", "airflow-bench:3.11"] and c[-1] == "version" for c in runner.calls) == 3
    )
    assert runner.calls[-1] == ["docker", "buildx", "prune", "--force", "--filter", f"description~={result.salt}"]
    names = [m.name for m in result.measurements]
    assert names[:3] == ["cold build", "no-op rebuild", "rebuild, one requirement added"]
    assert {
        "image size",
        "layers",
        "Python distributions",
        "airflow version (median of 3)",
        "second flavour / first flavour",
    } <= set(names)
    # the unpacked size (du in the image), not the compressed content inspect reports
    size = next(m for m in result.measurements if m.name == "image size")
    assert size.value == 1900.0 and size.met is True
    assert next(m for m in result.measurements if m.name == "pull size").value == 650.0
    assert result.site_packages_mb == (("google", 597), ("airflow", 75))


def test_prune_runs_even_when_a_build_fails(settings, matrix):
    class Failing(RecordingRunner):
        def run(self, argv, **kwargs):
            if argv[:3] == ["docker", "buildx", "build"]:
                self.calls.append(list(argv))
                raise RuntimeError("build broke")
            return super().run(argv, **kwargs)

    runner = Failing()
    with pytest.raises(RuntimeError):
        run_benchmark(settings, matrix, runner, python="3.11", extras=(), second_python=None, ca_bundle=None)
    assert runner.calls[-1][:3] == ["docker", "buildx", "prune"]


@pytest.mark.parametrize(
    ("value", "target", "met"), [(90.0, 100.0, True), (100.0, 100.0, True), (101.0, 100.0, False), (5.0, None, None)]
)
def test_target_met(value, target, met):
    assert Measurement("x", value, "s", "cmd", target).met is met


def test_table_and_json_carry_every_figure_with_its_command():
    result = BenchmarkResult(
        python="3.11",
        second_python=None,
        extras=("postgres",),
        salt="-bench-x",
        measurements=(
            Measurement("cold build", 91.5, "s", "nox -s build_prod-3.11 --", 100.0),
            Measurement("layers", 9, "", "docker image inspect t"),
        ),
    )
    table = format_table(result).splitlines()
    assert table[1].split()[:4] == ["cold", "build", "91.50", "s"] and table[1].endswith("nox -s build_prod-3.11 --")
    assert "yes" in table[1]
    body = json.loads(result.to_json())
    assert body["measurements"][0] == {
        "name": "cold build",
        "value": 91.5,
        "unit": "s",
        "command": "nox -s build_prod-3.11 --",
        "target": 100.0,
        "met": True,
    }
