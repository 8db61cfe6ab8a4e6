"""Runs inside the image: every distribution the chosen extras require is installed, every
provider's package and hook modules import, and every other such distribution's modules import.

Prints one line per failure and exits 1 if there is any; prints a summary otherwise.
"""

import importlib
import importlib.metadata as md
import sys

from packaging.requirements import Requirement

extras = [e for e in sys.argv[1].split(",") if e]
failures = []
checked = []
optional = []


def top_level_modules(dist):
    names = (dist.read_text("top_level.txt") or "").split()
    if not names:
        names = sorted(
            {
                f.parts[0]
                for f in dist.files or ()
                if f.suffix == ".py" and len(f.parts) > 1 and not f.parts[0].endswith((".dist-info", ".data"))
            }
        )
    return [n for n in names if n.isidentifier() and not n.startswith("_")]


def import_or_record(module, why):
    try:
        importlib.import_module(module)
    except Exception as exc:  # any failure to import is what this check is for
        # Providers raise this for features that need another extra; Airflow's ProvidersManager
        # treats it as "feature not installed", not as a broken provider. Anything else is broken.
        if type(exc).__name__ == "AirflowOptionalProviderFeatureException":
            optional.append(f"{why}: {module}")
            return
        failures.append(f"{why}: import {module} failed: {type(exc).__name__}: {exc}")


def check_requirement(req, seen):
    if req.name in seen:
        return
    seen.add(req.name)
    try:
        dist = md.distribution(req.name)
    except md.PackageNotFoundError:
        failures.append(f"{req.name} (required by an extra) is not installed")
        return
    if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
        failures.append(f"{req.name} {dist.version} does not satisfy {req.specifier}")
    checked.append(req.name)
    if req.name.startswith("apache-airflow-providers-"):
        module = "airflow.providers." + req.name[len("apache-airflow-providers-") :].replace("-", ".")
        import_or_record(module, req.name)
        # Providers describe their hooks through this entry point (what Airflow's ProvidersManager reads).
        entry = next((ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"), None)
        if entry is None:
            failures.append(f"{req.name} has no apache_airflow_provider entry point")
            return
        info = entry.load()()
        # Executors are what a deployment runs on (Celery, Kubernetes): a provider whose executor
        # cannot import is broken even when all its hooks import.
        for executor in info.get("executors", []):
            import_or_record(executor.rsplit(".", 1)[0], f"{req.name} executor")
        for hook in info.get("hooks", []):
            for hook_module in hook.get("python-modules", []):
                import_or_record(hook_module, req.name)
    elif not req.name.startswith("apache-airflow"):
        for module in top_level_modules(dist):
            import_or_record(module, req.name)


seen = set()
for raw in md.requires("apache-airflow") or []:
    req = Requirement(raw)
    if req.marker is None:
        continue
    for extra in extras:
        if req.marker.evaluate({"extra": extra}) and not req.marker.evaluate({"extra": "__none__"}):
            check_requirement(req, seen)
unknown = [e for e in extras if e not in (md.metadata("apache-airflow").get_all("Provides-Extra") or [])]
failures += [f"extra {e!r} is not an extra of apache-airflow" for e in unknown]
for line in failures:
    print(line)
print(f"optional features not installed: {len(optional)}")
print(f"checked {len(checked)} distributions for {len(extras)} extras; {len(failures)} failures")
sys.exit(1 if failures else 0)
