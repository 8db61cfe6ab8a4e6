"""Real builds that use the customisation build arguments (the unit tables cover the rest)."""

from __future__ import annotations

import base64
import functools
import io
import shutil
import subprocess
import tarfile
import threading
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, build_image, plan_with_engine
from airflow_image.docs_reference import dockerfile_args
from airflow_image.locks import lock_path
from airflow_image.params import buildx_command

from ..conftest import ROOT, SMALL_PYTHON
from ..layers import files_containing
from ..wheels import make_wheel

pytestmark = pytest.mark.throwaway_images("airflow-custom", "airflow-url", "airflow-none", "airflow-private")

INDEX_USER, INDEX_PASSWORD = "builder", "pr1vate-index-pw"
# Prints one `name=yes|no` line per database client library: its Debian package installed, and the
# library in the dynamic linker's cache (the two must agree).
DB_CLIENTS_PROBE = r"""
for lib in libpq:libpq5:libpq.so.5 mariadb:libmariadb3,libmariadb3t64:libmariadb.so.3; do
    IFS=: read -r name packages soname <<<"$lib"
    installed=no
    for pkg in ${packages//,/ }; do
        [[ $(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]] && installed=yes
    done
    linked=no
    /sbin/ldconfig -p | awk '{print $1}' | grep -qxF "$soname" && linked=yes
    [[ $installed == "$linked" ]] || echo "$name: package installed=$installed but in ldconfig=$linked"
    echo "$name=$installed"
done
"""


def copy_context(destination: Path) -> Path:
    destination.mkdir()
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy2(ROOT / name, destination / name)
    for name in ("image", "constraints"):
        shutil.copytree(ROOT / name, destination / name)
    (destination / "docker-context-files").mkdir()
    return destination


def run(tag: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", tag, "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )


def database_client_libraries(tag: str) -> dict[str, bool]:
    ran = run(tag, DB_CLIENTS_PROBE)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    found = dict(line.split("=", 1) for line in ran.stdout.splitlines() if "=" in line)
    assert set(found) == {"libpq", "mariadb"} and len(found) == len(ran.stdout.splitlines()), ran.stdout
    return {name: value == "yes" for name, value in found.items()}


# The in-tree build backend of make_sdist_needing_debs; NAME, DIST, VERSION and DEBS are filled in.
SDIST_BACKEND = r'''
import base64, hashlib, subprocess, zipfile

DEBS = DEBS_TUPLE


def _installed(deb):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", deb],
                         capture_output=True, text=True).stdout.split()
    if out[:1] != ["installed"]:
        raise SystemExit(f"NAME needs the Debian package {deb} to build")
    return out[1]


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    built_with = {deb: _installed(deb) for deb in DEBS}
    info = "DIST-VERSION.dist-info"
    files = {
        "DIST/__init__.py": f"BUILT_WITH = {built_with!r}\n".encode(),
        info + "/METADATA": b"Metadata-Version: 2.1\nName: NAME\nVersion: VERSION\n",
        info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[info + "/RECORD"] = ("\n".join([*record, info + "/RECORD,,"]) + "\n").encode()
    wheel = "DIST-VERSION-py3-none-any.whl"
    with zipfile.ZipFile(f"{wheel_directory}/{wheel}", "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
'''


def make_sdist_needing_debs(directory: Path, name: str, version: str, debs: tuple[str, ...]) -> Path:
    """An sdist with an in-tree build backend (no build requirements, so no index) whose wheel builds
    only where every Debian package in `debs` is installed, and records their versions."""
    dist = name.replace("-", "_")
    backend = (
        SDIST_BACKEND.replace("DEBS_TUPLE", repr(debs))
        .replace("DIST", dist)
        .replace("NAME", name)
        .replace("VERSION", version)
    )
    members = {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "backend.py": backend,
    }
    path = directory / f"{dist}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{dist}-{version}/{member}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def served(tmp_path):
    """Serves a folder on 127.0.0.1; with `auth`, only to basic-auth requests."""
    servers = []

    def serve(folder: Path, *, auth: tuple[str, str] | None = None) -> str:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                if expected and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="index"')
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield serve
    for httpd in servers:
        httpd.shutdown()


def default_of(arg: str) -> str:
    (found,) = [a for a in dockerfile_args((ROOT / "Dockerfile").read_text()) if a.name == arg]
    return found.defaults[0]


def test_customised_build(tmp_path, settings, matrix, runner, ca_bundle):
    context = copy_context(tmp_path / "context")
    files = context / "docker-context-files"
    make_wheel(files, "house-helpers", "2.0")  # a local wheel: found through docker-context-files/
    # an sdist that compiles only where the build stage has the Debian packages the two DEV args add
    make_sdist_needing_debs(files, "house-native", "1.0", ("libffi-dev", "libyaml-dev"))
    lock = lock_path(ROOT / "constraints", matrix.default_release().version, SMALL_PYTHON)
    (files / "my-constraints.txt").write_text(lock.read_text())
    tag = "airflow-custom:it"
    options = BuildOptions(
        python=SMALL_PYTHON,
        extras=("postgres",),
        additional_extras=("http",),
        additional_python_deps=("house-helpers==2.0", "house-native==1.0"),
        additional_dev_apt_deps=("libffi-dev",),
        additional_runtime_apt_deps=("jq",),
        constraints="my-constraints.txt",
        airflow_uid=1234,
        db_clients=("mysql", "mssql"),
        airflow_home="/srv/airflow",
        ca_bundle=ca_bundle,
        context=context,
        tags=(tag,),
    )
    # The arguments the sessions leave at their defaults, set on the request the sessions would build.
    request = replace(
        plan_with_engine(settings, matrix, options, runner),
        dev_apt_deps=(*default_of("DEV_APT_DEPS").split(), "libyaml-dev"),
        runtime_apt_deps=("dumb-init", "ca-certificates", "curl"),  # the default without git
        airflow_venv="/opt/custom-venv",
        airflow_bytecode="none",
        airflow_user_home_dir="/home/custom-home",
    )
    runner.run(buildx_command(request, context=context, dockerfile=context / "Dockerfile"))
    ran = run(
        tag,
        # bytecode first: any python started below writes some
        r"""set -e
        echo "pyc=$(find "$VIRTUAL_ENV" -name '*.pyc' | wc -l)"
        echo "uid=$(id -u)"
        echo "airflow_home=$AIRFLOW_HOME"
        echo "dags=$(stat -c '%u %g' /srv/airflow/dags)"
        echo "venv=$VIRTUAL_ENV $(command -v python) $(command -v airflow)"
        echo "default_venv=$([[ -e /opt/airflow-venv ]] && echo present || echo absent)"
        echo "home=$HOME $(getent passwd "$(id -u)" | cut -d: -f6)"
        touch "$HOME/written" && echo "home_writable=yes"
        echo "git=$(command -v git || echo absent)"
        echo "curl=$(command -v curl || echo absent)"
        for deb in libffi-dev libyaml-dev gcc; do
            echo "$deb=$(dpkg-query -W -f '${db:Status-Status}' "$deb" 2>/dev/null || echo absent)"
        done
        echo "jq=$(jq --version)"
        python -c 'import house_helpers, house_native, airflow.providers.http, sys
        print("prefix=" + sys.prefix)
        print("built_with=" + ",".join(sorted(house_native.BUILT_WITH)))'
        echo "constraints=$(grep -c == /usr/local/share/airflow/constraints.txt)"
        pip check >&2 && echo "pip_check=ok" || echo "pip_check=failed"
        echo "odbc=$(odbcinst -q -d | tr '\n' ' ')"
        echo "freetds=$(tsql -C | grep -ci 'freetds v')"
        """.replace("\n        ", "\n"),
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    found = dict(line.split("=", 1) for line in ran.stdout.splitlines() if "=" in line)
    assert found["pyc"] == "0"  # AIRFLOW_BYTECODE=none, for ADDITIONAL_PYTHON_DEPS too
    assert found["uid"] == "1234" and found["airflow_home"] == "/srv/airflow" and found["dags"] == "1234 0"
    # AIRFLOW_VENV: the environment, its python and Airflow are there, and nothing at the default path
    assert found["venv"] == "/opt/custom-venv /opt/custom-venv/bin/python /opt/custom-venv/bin/airflow"
    assert found["prefix"] == "/opt/custom-venv" and found["default_venv"] == "absent"
    # AIRFLOW_USER_HOME_DIR: the user's home, in its passwd entry, writable
    assert found["home"] == "/home/custom-home /home/custom-home" and found["home_writable"] == "yes"
    # RUNTIME_APT_DEPS without git: no git, the rest is there (dumb-init runs this very container)
    assert found["git"] == "absent" and found["curl"] == "/usr/bin/curl"
    # DEV_APT_DEPS (default + libyaml-dev) and ADDITIONAL_DEV_APT_DEPS (libffi-dev) were in the build
    # stage, where house-native compiled against them, and are in no layer of the final image
    assert found["built_with"] == "libffi-dev,libyaml-dev"
    assert found["libffi-dev"] == found["libyaml-dev"] == found["gcc"] == "absent"
    assert found["jq"].startswith("jq-")
    assert int(found["constraints"]) > 100  # the constraints from docker-context-files are the ones kept
    assert found["pip_check"] == "ok"
    # MSSQL through FreeTDS + unixODBC
    assert "[FreeTDS]" in found["odbc"] and found["freetds"] == "1"
    # INSTALL_MYSQL_CLIENT=true, INSTALL_POSTGRES_CLIENT=false (psycopg2-binary brings its own libpq)
    assert database_client_libraries(tag) == {"libpq": False, "mariadb": True}
    # an arbitrary uid gets AIRFLOW_USER_HOME_DIR as its home too
    other = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", "4321:0", tag, "bash", "-c",
         'echo "$HOME $(getent passwd 4321 | cut -d: -f6)"; touch "$HOME/other" && echo written'],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert other.stdout.split() == ["/home/custom-home", "/home/custom-home", "written"], other.stderr
    labels = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            tag,
            "--format",
            '{{index .Config.Labels "org.apache.airflow.extras"}} '
            '{{index .Config.Labels "org.apache.airflow.uid"}} '
            '{{index .Config.Labels "org.apache.airflow.constraints"}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert labels == ["postgres,http", "1234", "my-constraints.txt"]


def test_database_client_libraries_by_default(small_image):
    # INSTALL_POSTGRES_CLIENT and INSTALL_MYSQL_CLIENT default to true; neither extra of the small
    # image (postgres, celery) links against either library, so the switches alone put them there
    assert database_client_libraries(small_image) == {"libpq": True, "mariadb": True}


def test_constraints_from_a_url_and_none(tmp_path, served, settings, matrix, runner, ca_bundle):
    lock = lock_path(ROOT / "constraints", matrix.default_release().version, SMALL_PYTHON)
    (tmp_path / "web").mkdir()
    shutil.copy2(lock, tmp_path / "web" / "constraints.txt")
    url = served(tmp_path / "web") + "/constraints.txt"
    for constraints, tag, expect in ((url, "airflow-url:it", "apache-airflow=="), ("none", "airflow-none:it", "none")):
        options = BuildOptions(
            python=SMALL_PYTHON, extras=(), constraints=constraints, ca_bundle=ca_bundle, tags=(tag,)
        )
        build_image(settings, matrix, options, runner)
        ran = run(tag, "cat /usr/local/share/airflow/constraints.txt; airflow version")
        assert ran.returncode == 0, ran.stderr
        assert expect in ran.stdout and matrix.default_release().version in ran.stdout


def test_private_index_credentials_are_secrets_that_stay_out_of_the_image(
    tmp_path, served, settings, matrix, runner, ca_bundle
):
    index = tmp_path / "index"
    (index / "simple" / "private-pkg").mkdir(parents=True)
    wheel = make_wheel(index / "simple" / "private-pkg", "private-pkg", "1.0")
    (index / "simple" / "private-pkg" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    url = served(index, auth=(INDEX_USER, INDEX_PASSWORD))
    host = url.removeprefix("http://").split(":")[0]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "uv.toml").write_text(f'[[index]]\nname = "private"\nurl = "{url}/simple/"\n')
    (secrets / "netrc").write_text(f"machine {host}\nlogin {INDEX_USER}\npassword {INDEX_PASSWORD}\n")
    tag = "airflow-private:it"
    options = BuildOptions(
        python=SMALL_PYTHON,
        extras=(),
        additional_python_deps=("private-pkg==1.0",),
        ca_bundle=ca_bundle,
        tags=(tag,),
        secret_files=(("uv.toml", secrets / "uv.toml"), ("netrc", secrets / "netrc")),
    )
    build_image(settings, matrix, options, runner)
    ran = run(tag, "python -c 'import private_pkg; print(private_pkg.VALUE)'")
    assert ran.returncode == 0 and ran.stdout.strip() == "42", ran.stderr
    history = subprocess.run(["docker", "history", "--no-trunc", tag], capture_output=True, text=True, check=True)
    assert INDEX_PASSWORD not in history.stdout and url not in history.stdout
    assert files_containing(tag, INDEX_PASSWORD.encode()) == []
