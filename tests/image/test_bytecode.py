"""The bytecode the image keeps (AIRFLOW_BYTECODE=startup, the default).

Every Airflow process, and every task (a process of its own), imports the same modules when it
starts. Those, and Airflow's own package, must have bytecode that Python accepts as it is: a missing
or stale .pyc makes every start compile again (and on a read-only root, compile on every start).
"""

from __future__ import annotations

# Run with PYTHONDONTWRITEBYTECODE=1, so the probe's own imports cannot write what it checks.
PROBE = r"""
import importlib, importlib.util, os, struct, sys, sysconfig

site = sysconfig.get_paths()["purelib"]

def usable(source):
    # what importlib checks for a timestamp-based .pyc: the source's mtime and size in its header
    try:
        with open(importlib.util.cache_from_source(source), "rb") as pyc:
            header = pyc.read(16)
    except OSError:
        return False
    flags, mtime, size = struct.unpack("<III", header[4:16])
    stat = os.stat(source)
    return header[:4] == importlib.util.MAGIC_NUMBER and (
        flags != 0 or (mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF))

for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass  # an executor the variant does not install
imported = sorted({m.__file__ for m in list(sys.modules.values())
                   if (getattr(m, "__file__", None) or "").startswith(site) and m.__file__.endswith(".py")})
package = sorted(os.path.join(root, f) for root, _, files in os.walk(os.path.join(site, "airflow"))
                 for f in files if f.endswith(".py"))
bad_imported = [f for f in imported if not usable(f)]
bad_package = [f for f in package if not usable(f)]
counts = dict(imported=imported, bad_imported=bad_imported, package=package, bad_package=bad_package)
print(" ".join(f"{key}={len(value)}" for key, value in counts.items()))
print("\n".join((bad_imported + bad_package)[:20]))
"""

# What `airflow version`, the scheduler, the api-server and a task import when they start.
START_UP_MODULES = (
    "airflow.__main__",
    "airflow.cli.cli_parser",
    "airflow.jobs.scheduler_job_runner",
    "airflow.api_fastapi.main",
    "airflow.sdk.execution_time.task_runner",
)


def test_what_processes_import_at_start_has_usable_bytecode(run):
    result = run("python", "-c", PROBE, *START_UP_MODULES, environment={"PYTHONDONTWRITEBYTECODE": "1"})
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.output.splitlines() if line.startswith("imported="))
    counts = dict(field.split("=") for field in summary.split())
    # the probe really imported Airflow's start-up path, and Airflow's package is there
    assert int(counts["imported"]) > 500, result.output
    assert int(counts["package"]) > 1000, result.output
    assert counts["bad_imported"] == "0", result.output
    assert counts["bad_package"] == "0", result.output
