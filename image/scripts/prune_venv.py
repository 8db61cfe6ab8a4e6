"""Makes the installed environment smaller without making Airflow start slower.

Runs in the build stage with the environment's own interpreter:
  - removes test suites that packages ship inside site-packages (`tests/` folders), type stubs
    (`.pyi`: only type checkers read them) and Java archives (`.jar`: the image has no JVM to load
    them; Ray alone ships 33 MB for its Java workers);
  - writes bytecode (.pyc) for Airflow's own code and for every module that Airflow's processes
    import when they start (CLI, scheduler, triggerer, dag-processor, api-server, workers, the task
    runner), and for nothing else (mode "startup"): SDKs that only some tasks import compile when
    first imported. Mode "all" compiles everything, "none" nothing.

    python prune_venv.py MODE
"""

from __future__ import annotations

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
DEAD_WEIGHT_SUFFIXES = (".pyi", ".jar")


def import_start_up_modules() -> None:
    """Imports the entry modules in a clean interpreter; Python writes the bytecode of every module
    that gets imported, which is exactly the set start-up needs."""
    probe = (
        "import importlib\n"
        f"for name in {ENTRY_MODULES!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": "/tmp/airflow-prune", "AIRFLOW__CORE__LOAD_EXAMPLES": "false"}
    subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, check=True)


def compile_tree_command(path: str) -> list[str]:
    return [sys.executable, "-m", "compileall", "-q", "-j", "0", path]


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
    # The environment is installed without bytecode: compiling everything only to delete most of it
    # cost more than the whole download. "startup" lets the probe's own imports write the bytecode of
    # what start-up imports, then compiles Airflow's package; "all" compiles everything.
    if mode == "startup":
        # The probe is one interpreter importing one module after another: Airflow's package compiles on
        # the other cores meanwhile. Both write each .pyc by atomic rename, so a file both touch is safe.
        compiling = subprocess.Popen(compile_tree_command(os.path.join(site, "airflow")))
        try:
            import_start_up_modules()
        finally:
            if compiling.wait() != 0:
                raise SystemExit(f"ERROR: compiling {site}/airflow failed (exit {compiling.returncode})")
    elif mode == "all":
        subprocess.run(compile_tree_command(site), check=True)
    kept = removed_files = 0
    for root, _, files in os.walk(site):
        for name in files:
            if name.endswith(DEAD_WEIGHT_SUFFIXES) or (mode == "none" and name.endswith(".pyc")):
                os.remove(os.path.join(root, name))
                removed_files += not name.endswith(".pyc")
            elif name.endswith(".pyc"):
                kept += 1
    print(
        f"removed {removed_tests} tests/ folders and {removed_files} type stubs and Java archives; "
        f"bytecode ({mode}): {kept} .pyc files"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
