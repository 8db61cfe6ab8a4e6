"""Command-line options shared by the nox sessions and invoke tasks, parsed into frozen options.

Environment variables are read here, at the edge, and nowhere deeper in the package.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from .build import BuildOptions
from .errors import InvalidBuildOption
from .params import check_requirements

# Environment variables the entry points honour (documented in docs/building.md).
ENV_AIRFLOW_VERSION = "AIRFLOW_VERSION"
ENV_CA_BUNDLE = "AIRFLOW_IMAGE_CA_BUNDLE"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _words(value: str) -> tuple[str, ...]:
    return tuple(value.split())


def _requirements(value: str) -> tuple[str, ...]:
    # InvalidBuildOption is not one of the errors argparse rewords: its one line reaches the user as is
    return check_requirements(_words(value))


def _secret(value: str) -> tuple[str, Path]:
    secret_id, sep, path = value.partition("=")
    if not sep or not secret_id or not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{value!r} is not ID=PATH with an existing file")
    return secret_id, Path(path)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, typed, no usage dump
        raise InvalidBuildOption(message)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, add_help=False)
    p.add_argument("--variant", default="regular", choices=("regular", "slim"))
    p.add_argument(
        "--extras",
        type=_csv,
        default=None,
        help="comma-separated Airflow extras instead of the production set ('' for none)",
    )
    p.add_argument("--additional-extras", type=_csv, default=())
    p.add_argument(
        "--additional-python-deps",
        type=_requirements,
        default=(),
        help="space-separated PEP 508 requirements installed on top of Airflow (a malformed one is refused here)",
    )
    p.add_argument("--additional-dev-apt-deps", type=_words, default=())
    p.add_argument("--additional-runtime-apt-deps", type=_words, default=())
    p.add_argument("--constraints", default="lock", help="lock | none | URL | file name in docker-context-files/")
    p.add_argument("--base-image", default=None)
    p.add_argument("--tag", action="append", default=[], help="image reference to tag (repeatable)")
    p.add_argument("--platform", type=_csv, default=())
    p.add_argument("--ca-bundle", type=Path, default=None)
    p.add_argument("--airflow-uid", type=int, default=None)
    p.add_argument("--airflow-home", default=None)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument(
        "--offline",
        action="store_true",
        help="install only from docker-context-files/, with no network (see fill-context-files)",
    )
    p.add_argument(
        "--db-clients",
        type=_csv,
        default=None,
        help="database client libraries in the image: any of postgres,mysql,mssql,msodbcsql ('' for none)",
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        type=_secret,
        help="ID=PATH: a BuildKit secret (pip.conf, uv.toml or netrc for private indexes)",
    )
    p.add_argument("--image", default=None, help="(test sessions) the image to test instead of the default tag")
    return p


def ca_bundle_from(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """--ca-bundle, else $AIRFLOW_IMAGE_CA_BUNDLE, else $SSL_CERT_FILE: a user whose tools need a
    custom CA bundle almost always needs it inside the build too. Handed in as a secret only."""
    for candidate in (explicit, environ.get(ENV_CA_BUNDLE), environ.get("SSL_CERT_FILE")):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                raise InvalidBuildOption(f"CA bundle {str(path)!r} is not a file")
            return path
    return None


def parse_build_options(
    argv: Sequence[str], *, python: str, environ: Mapping[str, str], prog: str = "build_prod"
) -> tuple[BuildOptions, str | None, list[str]]:
    """(options, explicit image ref, the arguments left for pytest)."""
    ns, rest = build_parser(prog).parse_known_args(list(argv))
    options = BuildOptions(
        airflow_version=environ.get(ENV_AIRFLOW_VERSION) or None,
        python=python,
        variant=ns.variant,
        extras=ns.extras,
        additional_extras=ns.additional_extras,
        additional_python_deps=ns.additional_python_deps,
        additional_dev_apt_deps=ns.additional_dev_apt_deps,
        additional_runtime_apt_deps=ns.additional_runtime_apt_deps,
        constraints=ns.constraints,
        base_image=ns.base_image,
        tags=tuple(ns.tag),
        platforms=ns.platform,
        ca_bundle=ca_bundle_from(ns.ca_bundle, environ),
        airflow_uid=ns.airflow_uid,
        airflow_home=ns.airflow_home,
        no_cache=ns.no_cache,
        offline=ns.offline,
        db_clients=ns.db_clients,
        secret_files=tuple(ns.secret),
    )
    return options, ns.image, rest
