"""INSTALL_MSODBCSQL=true against a signed apt repository served on 127.0.0.1.

Microsoft's repository cannot be reached from here, so the repository holds a stand-in `msodbcsql18`
that behaves as Microsoft's package does where the build depends on it: its pre-install script
refuses to run unless ACCEPT_EULA=Y, and its post-install script registers "ODBC Driver 18 for SQL
Server" with unixODBC's odbcinst. Everything else is real: apt-sources/ from docker-context-files,
the key in /etc/apt/keyrings, apt's signature check of the repository, and pyodbc finding the driver.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from airflow_image.build import BuildOptions, build_image

from ..conftest import SMALL_PYTHON
from .test_build_args import copy_context, database_client_libraries, run, served  # noqa: F401

pytestmark = pytest.mark.throwaway_images("airflow-msodbcsql")

DRIVER = "ODBC Driver 18 for SQL Server"


def stand_in_driver_deb(folder: Path) -> Path:
    root = folder / "msodbcsql18"
    (root / "DEBIAN").mkdir(parents=True)
    lib = root / "opt/microsoft/msodbcsql18/lib64"
    lib.mkdir(parents=True)
    (lib / "libmsodbcsql-18.so").write_text("stand-in\n")
    template = root / "opt/microsoft/msodbcsql18/etc/odbcinst.ini"
    template.parent.mkdir(parents=True)
    template.write_text(f"[{DRIVER}]\nDescription=Microsoft {DRIVER}\n"
                        "Driver=/opt/microsoft/msodbcsql18/lib64/libmsodbcsql-18.so\n")  # fmt: skip
    (root / "DEBIAN/control").write_text(
        "Package: msodbcsql18\nVersion: 18.5.1.1-1\nArchitecture: all\nMaintainer: tests <tests@example.invalid>\n"
        "Depends: odbcinst\nDescription: stand-in for Microsoft ODBC Driver 18 for SQL Server\n"
    )
    scripts = {
        "preinst": '#!/bin/sh\ncase "$ACCEPT_EULA" in y|Y) ;; *) echo "EULA not accepted" >&2; exit 1;; esac\n',
        "postinst": "#!/bin/sh\nodbcinst -i -d -f /opt/microsoft/msodbcsql18/etc/odbcinst.ini >/dev/null\n",
    }
    for name, body in scripts.items():
        (root / "DEBIAN" / name).write_text(body)
        (root / "DEBIAN" / name).chmod(0o755)
    deb = folder / "msodbcsql18_18.5.1.1-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)  # fmt: skip
    shutil.rmtree(root)
    return deb


def signed_flat_repository(folder: Path, keyring: Path) -> None:
    """Packages, Release and InRelease for the .debs in `folder`, signed by a key made here; the
    public key is written to `keyring`."""
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=folder, check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
    (folder / "Packages").write_text(packages)
    data = (folder / "Packages").read_bytes()
    (folder / "Release").write_text(
        "Origin: stand-in\nLabel: stand-in\nSuite: ./\n"
        f"SHA256:\n {hashlib.sha256(data).hexdigest()} {len(data)} Packages\n"
    )
    # a short home: gpg-agent's socket path must fit in a unix socket address
    with tempfile.TemporaryDirectory(prefix="gpg-", dir="/tmp") as home:
        env = {**os.environ, "GNUPGHOME": home}
        gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
        subprocess.run([*gpg, "--quick-gen-key", "stand-in repository <repo@example.invalid>", "ed25519", "sign",
                        "never"], env=env, check=True, capture_output=True)  # fmt: skip
        subprocess.run([*gpg, "--clearsign", "--output", str(folder / "InRelease"), str(folder / "Release")],
                       env=env, check=True, capture_output=True)  # fmt: skip
        subprocess.run([*gpg, "--export", "--output", str(keyring)], env=env, check=True, capture_output=True)
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)


def test_microsofts_driver_from_a_repository_in_docker_context_files(
    tmp_path, served, settings, matrix, runner, ca_bundle  # noqa: F811
):
    repository = tmp_path / "repository"
    repository.mkdir()
    stand_in_driver_deb(repository)
    context = copy_context(tmp_path / "context")
    sources = context / "docker-context-files" / "apt-sources"
    sources.mkdir()
    signed_flat_repository(repository, sources / "stand-in-microsoft.gpg")
    url = served(repository)
    (sources / "microsoft-prod.sources").write_text(
        f"Types: deb\nURIs: {url}/\nSuites: ./\nSigned-By: /etc/apt/keyrings/stand-in-microsoft.gpg\n"
    )
    tag = "airflow-msodbcsql:it"
    options = BuildOptions(python=SMALL_PYTHON, extras=("odbc",), db_clients=("msodbcsql",), ca_bundle=ca_bundle,
                           context=context, tags=(tag,))  # fmt: skip
    build_image(settings, matrix, options, runner)
    ran = run(
        tag,
        "set -e; dpkg-query -W -f '${Version}\\n' msodbcsql18; odbcinst -q -d; "
        "python -c 'import pyodbc; print(pyodbc.drivers())'; "
        "ls /etc/apt/sources.list.d /etc/apt/keyrings 2>/dev/null | grep -c stand-in || true",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "18.5.1.1-1"
    assert f"[{DRIVER}]" in lines
    assert DRIVER in lines[2]  # pyodbc, through unixODBC, sees Microsoft's driver
    assert lines[3] == "0"  # the repository was used for the build only
    # --db-clients msodbcsql turns INSTALL_POSTGRES_CLIENT and INSTALL_MYSQL_CLIENT off: neither library
    # is there (the odbc extra links against neither)
    assert database_client_libraries(tag) == {"libpq": False, "mariadb": False}

