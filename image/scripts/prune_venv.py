"""Makes the installed environment smaller without making Airflow start slower.

Runs in the build stage with the environment's own interpreter:
  - removes test suites that packages ship inside site-packages (`tests/` folders);
  - keeps bytecode (.pyc) for Airflow's own code and for every module that Airflow's processes
    import when they start (CLI, scheduler, triggerer, dag-processor, api-server, workers, the task
    runner); the other .pyc files, for SDKs that only some tasks import, are removed
    (mode "startup"). Those modules compile when first imported. Mode "all" keeps every .pyc,
    "none" removes all of them.

    python prune_venv.py MODE
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import sysconfig

# What each long-running Airflow process and each task process imports before doing any work.
ENTRY_MODULES = (
    "airflow.__main__",
    "airflow.cli.cli_parser",
    "airflow.jobs.scheduler_job_runner",
    "airflow.jobs.triggerer_job_runner",
    "airflow.dag_processing.manager",
    "airflow.dag_processing.processor",
    "airflow.api_fastapi.main",
    "airflow.sdk",
    "airflow.sdk.execution_time.task_runner",
    "airflow.sdk.execution_time.supervisor",
    "airflow.executors.local_executor",
    "airflow.providers.celery.executors.celery_executor",
    "airflow.providers.cncf.kubernetes.executors.kubernetes_executor",
    "airflow.providers.standard.operators.python",
    "airflow.providers.standard.operators.bash",
    "airflow.providers.standard.operators.empty",
    "uvicorn",
    "celery.bin.celery",
)
MODES = ("startup", "all", "none")


def imported_bytecode() -> set[str]:
    """Bytecode files of every module the entry modules import, found in a clean interpreter."""
    probe = (
        "import importlib, sys\n"
        f"for name in {ENTRY_MODULES!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "for m in list(sys.modules.values()):\n"
        "    cached = getattr(m, '__cached__', None)\n"
        "    if cached:\n"
        "        print(cached)\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": "/tmp/airflow-prune", "AIRFLOW__CORE__LOAD_EXAMPLES": "false"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return {line for line in out.stdout.splitlines() if line.endswith(".pyc")}


def main(mode: str) -> int:
    if mode not in MODES:
        print(f"ERROR: AIRFLOW_BYTECODE={mode!r} is not one of: {', '.join(MODES)}", file=sys.stderr)
        return 1
    site = sysconfig.get_paths()["purelib"]
    removed_tests = 0
    for root, dirs, _ in os.walk(site):
        if "tests" in dirs:
            shutil.rmtree(os.path.join(root, "tests"))
            dirs.remove("tests")
            removed_tests += 1
    keep = imported_bytecode() if mode == "startup" else set()
    kept = dropped = 0
    airflow_dir = os.path.join(site, "airflow") + os.sep
    for root, _, files in os.walk(site):
        for name in files:
            if not name.endswith(".pyc"):
                continue
            path = os.path.join(root, name)
            if mode == "all" or (mode == "startup" and (path in keep or path.startswith(airflow_dir))):
                kept += 1
                continue
            os.remove(path)
            dropped += 1
    print(f"removed {removed_tests} tests/ folders; bytecode ({mode}): kept {kept} .pyc files, removed {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
