"""Real builds that use the customisation build arguments (the unit tables cover the rest)."""

from __future__ import annotations

import base64
import functools
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, build_image
from airflow_image.locks import lock_path

from ..conftest import ROOT, SMALL_PYTHON
from ..layers import files_containing
from ..wheels import make_wheel

INDEX_USER, INDEX_PASSWORD = "builder", "pr1vate-index-pw"


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


def test_customised_build(tmp_path, settings, matrix, runner, ca_bundle):
    context = copy_context(tmp_path / "context")
    files = context / "docker-context-files"
    make_wheel(files, "house-helpers", "2.0")  # a local wheel: found through docker-context-files/
    lock = lock_path(ROOT / "constraints", matrix.default_release().version, SMALL_PYTHON)
    (files / "my-constraints.txt").write_text(lock.read_text())
    tag = "airflow-custom:it"
    options = BuildOptions(
        python=SMALL_PYTHON,
        extras=("postgres",),
        additional_extras=("http",),
        additional_python_deps=("house-helpers==2.0",),
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
    build_image(settings, matrix, options, runner)
    ran = run(
        tag,
        (
            "set -e; id -u; echo $AIRFLOW_HOME; stat -c '%u %g' /srv/airflow/dags; jq --version; "
            "python -c 'import house_helpers, airflow.providers.http; print(\"imports ok\")'; "
            "grep -c == /usr/local/share/airflow/constraints.txt; pip check; "
            "dpkg -s libpq5 >/dev/null 2>&1 && echo libpq5 || echo no-libpq5; "
            "odbcinst -q -d; tsql -C | grep -i 'freetds v'"
        ),
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[:3] == ["1234", "/srv/airflow", "1234 0"]
    assert lines[3].startswith("jq-") and "imports ok" in lines
    assert int(lines[5]) > 100  # the constraints from docker-context-files are the ones kept
    # INSTALL_POSTGRES_CLIENT=false (psycopg2-binary brings its own libpq), MSSQL through FreeTDS + unixODBC
    assert "no-libpq5" in lines and "[FreeTDS]" in lines
    assert any("freetds v" in line.lower() for line in lines)
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
