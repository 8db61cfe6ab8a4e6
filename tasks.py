"""Release-side tasks (invoke). Each task parses its arguments and calls one package function;
typed errors from the package become one line on stderr and exit code 1.

    invoke --list
"""

from __future__ import annotations

import os
import sys
from functools import wraps
from pathlib import Path

from invoke import Collection, Exit, task

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from airflow_image.compose import generate_quick_start  # noqa: E402
from airflow_image.credentials import credential_sources  # noqa: E402
from airflow_image.errors import AirflowImageError  # noqa: E402
from airflow_image.matrix import load_matrix  # noqa: E402
from airflow_image.push import push_images, tag_for_release  # noqa: E402
from airflow_image.refresh import update_lock, update_matrix  # noqa: E402
from airflow_image.release import release  # noqa: E402
from airflow_image.release_plan import format_summary, parse_registry, parse_release_options  # noqa: E402
from airflow_image.runner import SubprocessRunner  # noqa: E402
from airflow_image.settings import load_settings  # noqa: E402


def one_line_errors(func):
    """Turns the package's typed errors into `error: …` and exit code 1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AirflowImageError as exc:
            raise Exit(f"error: {exc}", code=1) from None

    return wrapper


@task(name="update-matrix", help={"full": "re-read every version, not only the ones missing from the file"})
@one_line_errors
def update_matrix_task(c, full=False):
    """Refresh data/airflow-versions.json from the package index's metadata."""
    settings = load_settings(ROOT)
    matrix = update_matrix(settings, os.environ, full=full)
    print(f"{len(matrix.releases)} versions; default {matrix.default_release().version}; wrote {settings.matrix_path}")


@task(
    name="update-locks",
    iterable=["python"],
    help={
        "version": "Airflow version (default: the newest stable)",
        "python": "flavour(s) (default: all)",
        "dry_run": "print the resolver command only",
    },
)
@one_line_errors
def update_locks(c, version=None, python=None, dry_run=False):
    """Resolve and write constraints/<version>/constraints-<python>[-<arch>].txt with uv, per lock platform."""
    settings = load_settings(ROOT)
    matrix = load_matrix(settings.matrix_path)
    release = matrix.get(version) if version else matrix.default_release()
    runner = SubprocessRunner(dry_run=dry_run)
    for flavour in python or release.pythons:
        for path in update_lock(settings, matrix, runner, airflow_version=release.version, python=flavour):
            print(f"{'would write' if dry_run else 'wrote'} {path.relative_to(ROOT)}")


@task(
    name="release",
    iterable=["python", "variant", "platform"],
    help={
        "version": "Airflow version from the matrix (default: the newest stable)",
        "registry": "HOST[:PORT][/NAMESPACE] to push to (default: $AIRFLOW_IMAGE_REGISTRY)",
        "python": "release only these flavour(s) (repeatable; default: every flavour of the version)",
        "variant": "regular and/or slim (repeatable; default: regular)",
        "extras": "comma-separated extras instead of the production set ('' for core only)",
        "constraints": "lock (default) | none | URL | file in docker-context-files/",
        "pytest_args": "extra arguments for every flavour's image tests, as one string",
        "platform": "linux/amd64 and/or linux/arm64 (repeatable; default: [tool.airflow-image] release-platforms)",
        "sign_key": "cosign key reference (file, env://VAR, KMS URI) to sign and attest every pushed digest; "
                    "its password from $COSIGN_PASSWORD",
        "sign_keyless": "sign and attest keyless (OIDC identity, as in the release workflow)",
        "tlog": "record signatures in the public transparency log (default; --no-tlog for private registries)",
        "out": "folder for the release summary and the pushed images' SBOMs, written to OUT/<version>/ "
               "(default: dist/release)",
        "dry_run": "plan and check everything; build, test and push nothing",
    },
)
@one_line_errors
def release_task(
    c,
    version=None,
    registry=None,
    python=None,
    variant=None,
    extras=None,
    constraints="lock",
    pytest_args="",
    platform=None,
    sign_key=None,
    sign_keyless=False,
    tlog=True,
    out="dist/release",
    dry_run=False,
):
    """Build, test and push every flavour of a version, or push nothing; a re-run pushes only what is missing."""
    settings = load_settings(ROOT)
    options = parse_release_options(
        version=version,
        registry=registry,
        pythons=python or (),
        variants=variant or (),
        extras=extras,
        constraints=constraints,
        pytest_args=pytest_args,
        platforms=platform or (),
        sign_key=sign_key,
        sign_keyless=sign_keyless,
        transparency_log=tlog,
        out=ROOT / out,
        interpreter=sys.executable,
        environ=os.environ,
        home=Path.home(),
    )
    release(settings, load_matrix(settings.matrix_path), options, runner=SubprocessRunner(dry_run=dry_run))


@task(name="tag", help={"image": "local image (built here)", "registry": "HOST[:PORT][/NAMESPACE]"})
@one_line_errors
def tag_task(c, image, registry):
    """Give a local image every tag the naming convention gives its flavour, under a registry."""
    settings = load_settings(ROOT)
    matrix = load_matrix(settings.matrix_path)
    refs = tag_for_release(settings, matrix, image=image, registry=parse_registry(registry), runner=SubprocessRunner())
    print("\n".join(refs))


@task(name="push", iterable=["image"], help={"image": "registry image reference (repeatable)", "dry_run": "print only"})
@one_line_errors
def push_task(c, image=None, dry_run=False):
    """Push image references and read each back from the registry (digest, size)."""
    credentials = credential_sources(os.environ, home=Path.home())
    results = push_images(tuple(image or ()), credentials=credentials, runner=SubprocessRunner(dry_run=dry_run))
    print("\n".join(format_summary(results)) if results else "nothing pushed")


@task(
    name="fill-context-files",
    help={
        "python": "the image's Python flavour (default: the version's default)",
        "version": "Airflow version (default: the newest stable)",
        "extras": "comma-separated extras (default: the production set)",
        "dest": "folder to fill (default: docker-context-files/)",
    },
)
@one_line_errors
def fill_context_files_task(c, python=None, version=None, extras=None, dest=None):
    """Fill docker-context-files/ with everything an air-gapped (--network none) build needs."""
    from airflow_image.build import BuildOptions, fill_context_files
    from airflow_image.cli_options import ca_bundle_from

    settings = load_settings(ROOT)
    options = BuildOptions(
        airflow_version=version,
        python=python,
        extras=None if extras is None else tuple(e for e in extras.split(",") if e),
        ca_bundle=ca_bundle_from(None, os.environ),
    )
    target = Path(dest) if dest else ROOT / "docker-context-files"
    fill_context_files(settings, load_matrix(settings.matrix_path), options, SubprocessRunner(), dest=target)
    print(f"filled {target}; build with: nox -s build_prod-{python or '<X.Y>'} -- --offline")


@task(name="chart-package", help={"version": "chart SemVer (default: Chart.yaml)", "out": "output folder"})
@one_line_errors
def chart_package(c, version=None, out="dist"):
    """Package chart/ as a .tgz, appVersion and image tag from the version matrix."""
    from airflow_image.chart.package import package_default_chart

    print(package_default_chart(ROOT, Path(out), version=version))


@task(
    name="chart-push",
    help={
        "registry": "oci://HOST[:PORT]/PATH",
        "archive": "a packaged chart (default: package now)",
        "plain_http": "talk HTTP, not HTTPS (local registries)",
        "username": "registry user; the password comes from $CHART_REGISTRY_PASSWORD",
    },
)
@one_line_errors
def chart_push(c, registry, archive=None, version=None, plain_http=False, username=None):
    """Push the packaged chart to an OCI registry."""
    from airflow_image.chart.package import package_default_chart, push_chart

    path = Path(archive) if archive else package_default_chart(ROOT, Path("dist"), version=version)
    print(push_chart(path, registry, plain_http=plain_http, username=username,
                     password=os.environ.get("CHART_REGISTRY_PASSWORD")))


@task(
    name="compose",
    help={
        "executor": "local (default) or celery",
        "image": "Airflow image (default: the default flavour of the newest stable release)",
        "output": "compose file to write (default: docs/quick-start/docker-compose.yaml); .env goes beside it",
        "postgres_image": "PostgreSQL image (default: postgres:16)",
        "redis_image": "Redis image, Celery only (default: redis:7)",
        "port": "127.0.0.1 port of the API server and UI (default: 8080)",
    },
)
@one_line_errors
def compose_task(c, executor="local", image=None, output=None, postgres_image=None, redis_image=None, port=None):
    """Write the docker-compose quick start and, once, its .env with the shared secrets."""
    settings = load_settings(ROOT)
    quick_start = generate_quick_start(
        settings, load_matrix(settings.matrix_path), host_uid=os.getuid(), output=Path(output) if output else None,
        executor=executor, image=image, postgres_image=postgres_image, redis_image=redis_image,
        api_port=int(port) if port else None,
    )
    env_state = "created" if quick_start.env.created else "kept (secrets are never regenerated)"
    print(f"wrote {quick_start.compose_file}; {quick_start.env.path} {env_state}")
    print(f"next: docker compose -f {quick_start.compose_file} up -d --wait, then open "
          f"http://127.0.0.1:{quick_start.options.api_port} as admin (password: AIRFLOW_ADMIN_PASSWORD in .env)")


@task(
    name="check-base-images",
    help={
        "registry": "HOST[:PORT][/NAMESPACE] holding the released images (default: $AIRFLOW_IMAGE_REGISTRY)",
        "base_registry": "registry of base names without a host (default: $AIRFLOW_IMAGE_BASE_REGISTRY)",
    },
)
@one_line_errors
def check_base_images_task(c, registry=None, base_registry=None):
    """Table of released images whose base image moved on; exit 0 all current, 2 something stale, 1 uncheckable."""
    from airflow_image.base_check import check_base_images, exit_code, format_status, parse_check_options

    settings = load_settings(ROOT)
    options = parse_check_options(registry=registry, base_registry=base_registry, environ=os.environ,
                                  home=Path.home())
    statuses = check_base_images(options, settings.image_name, runner=SubprocessRunner())
    print("\n".join(format_status(statuses, options.registry, settings.image_name)))
    if exit_code(statuses):
        raise Exit(code=exit_code(statuses))


@task(
    name="rebuild-stale",
    help={
        "registry": "HOST[:PORT][/NAMESPACE] holding the released images (default: $AIRFLOW_IMAGE_REGISTRY)",
        "base_registry": "registry of base names without a host (default: $AIRFLOW_IMAGE_BASE_REGISTRY)",
        "pytest_args": "extra arguments for every rebuilt image's tests, as one string",
        "out": "folder for the SBOMs and change reports (default: dist/security)",
        "sign_key": "cosign key reference to sign and attest what is pushed, as for release",
        "sign_keyless": "sign and attest keyless (OIDC identity, as in the workflows)",
        "tlog": "record signatures in the public transparency log (default; --no-tlog for private registries)",
        "dry_run": "check and print what would be rebuilt; build, test and push nothing",
    },
)
@one_line_errors
def rebuild_stale_task(c, registry=None, base_registry=None, pytest_args="", out="dist/security", sign_key=None,
                       sign_keyless=False, tlog=True, dry_run=False):
    """Rebuild, test and re-push every released image whose base moved on; moving tags move, a dated tag pins."""
    from airflow_image.rebuild import parse_rebuild_options, rebuild_stale

    settings = load_settings(ROOT)
    options = parse_rebuild_options(registry=registry, base_registry=base_registry, pytest_args=pytest_args,
                                    out=ROOT / out, interpreter=sys.executable, environ=os.environ, home=Path.home(),
                                    sign_key=sign_key, sign_keyless=sign_keyless, transparency_log=tlog)
    rebuild_stale(settings, load_matrix(settings.matrix_path), options, runner=SubprocessRunner(dry_run=dry_run))


@task(
    name="overrides-check",
    help={
        "version": "check only this Airflow version's locks (default: every committed lock)",
        "file": "overrides file (default: security-overrides.toml)",
    },
)
@one_line_errors
def overrides_check_task(c, version=None, file=None):
    """Security overrides a committed lock already satisfies; exit 0 none, 2 some to drop or narrow, 1 bad file."""
    from airflow_image.overrides import format_standings, overrides_check, standings_exit_code

    overrides_file = Path(file) if file else None
    standings = overrides_check(load_settings(ROOT), airflow_version=version, overrides_file=overrides_file)
    print("\n".join(format_standings(standings)))
    if standings_exit_code(standings):
        raise Exit(code=standings_exit_code(standings))


@task(
    name="verify",
    help={
        "image": "HOST[:PORT]/NAME:TAG or HOST[:PORT]/NAME@sha256:…",
        "key": "cosign public key reference (default: keyless, signed by this repository's release workflow)",
        "identity_regexp": "keyless: the signer identity to accept (default: this repository's workflows)",
        "oidc_issuer": "keyless: the identity's issuer (default: GitHub Actions)",
        "tlog": "require the signatures in the transparency log (default; --no-tlog for private registries)",
    },
)
@one_line_errors
def verify_task(c, image, key=None, identity_regexp=None, oidc_issuer=None, tlog=True):
    """Check an image's signature, its signed SBOM and provenance, and that the provenance names this repository."""
    from airflow_image.push import client_for_image
    from airflow_image.signing import parse_verifier, verify_image

    settings = load_settings(ROOT)
    verifier = parse_verifier(key=key, identity_regexp=identity_regexp, oidc_issuer=oidc_issuer,
                              transparency_log=tlog, source_url=settings.source_url)
    runner = SubprocessRunner()
    credentials = credential_sources(os.environ, home=Path.home())
    with client_for_image(image, credentials, runner) as (client, env):
        failures = verify_image(image, verifier, source_url=settings.source_url, client=client, runner=runner, env=env)
    if failures:
        raise Exit("\n".join(f"verify: {line}" for line in failures), code=1)
    print(f"verified {image}: signed, SBOM and provenance attested, built from {settings.source_url}")


@task(name="docs")
@one_line_errors
def docs_task(c):
    """Build the docs site into site/ (nox -s docs: Sphinx, every warning an error)."""
    from airflow_image.docs_reference import build_docs

    print(f"built {build_docs(SubprocessRunner(), ROOT)}")


ns = Collection(update_matrix_task, update_locks, release_task, tag_task, push_task, fill_context_files_task,
                chart_package, chart_push, compose_task, docs_task, check_base_images_task,
                rebuild_stale_task, overrides_check_task, verify_task)
ns.configure({"run": {"echo": True}})
