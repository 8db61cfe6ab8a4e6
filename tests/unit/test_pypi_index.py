"""Matrix generation on recorded PyPI data, and the metadata reader against a local HTTP server."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests

from airflow_image.errors import MetadataError
from airflow_image.pypi_index import IndexFile, IndexMetadataReader, index_files, matrix_from_index

DATA = Path(__file__).parent / "data" / "pypi"


@pytest.fixture(scope="module")
def recorded():
    simple = json.loads((DATA / "simple-apache-airflow.json").read_text())
    texts = {p.name.removesuffix(".METADATA"): p.read_text() for p in DATA.glob("*.METADATA")}
    return simple, texts


def _reader(texts, calls):
    def read(file: IndexFile) -> str:
        calls.append(file.filename)
        if file.filename not in texts:
            raise MetadataError(f"no recording for {file.filename}")
        return texts[file.filename]

    return read


def test_matrix_from_recorded_index(recorded):
    simple, texts = recorded
    calls: list[str] = []
    matrix = matrix_from_index(simple, _reader(texts, calls), preferred_python="3.12", workers=1)
    assert matrix.get("1.10.6").pythons == ("2.7", "3.5", "3.6", "3.7")
    assert matrix.get("1.8.1").pythons == ("2.7", "3.4")  # sdist only: PKG-INFO
    assert matrix.get("3.3.2").pythons == ("3.10", "3.11", "3.12", "3.13", "3.14")
    assert matrix.get("3.3.2").default_python == "3.12"
    assert matrix.get("1.10.6").default_python == "3.7"
    assert matrix.get("3.4.0b2").is_prerelease
    assert matrix.newest_stable().version == "3.3.2"
    # one metadata read per version, wheels preferred over sdists
    assert len(calls) == len(matrix.releases)
    assert all(c.endswith(".whl") for c in calls if not c.startswith("apache-airflow-1.8.1"))


def test_known_versions_are_not_read_again(recorded):
    simple, texts = recorded
    first = matrix_from_index(simple, _reader(texts, []), preferred_python="3.12", workers=1)
    calls: list[str] = []
    again = matrix_from_index(simple, _reader(texts, calls), preferred_python="3.12", known=first, workers=1)
    assert calls == [] and again == first


def test_index_files_skip_foreign_names():
    simple = {
        "files": [
            {"filename": "apache_airflow-3.3.2-py3-none-any.whl", "url": "u1", "requires-python": ">=3.10"},
            {"filename": "apache-airflow-3.3.2.tar.gz", "url": "u2", "core-metadata": {"sha256": "x"}},
            {"filename": "not-a-dist.exe", "url": "u3"},
            {"filename": "broken.whl", "url": "u4"},
        ]
    }
    files = index_files(simple)
    assert [(f.filename, f.is_wheel, f.has_core_metadata) for f in files] == [
        ("apache_airflow-3.3.2-py3-none-any.whl", True, False),
        ("apache-airflow-3.3.2.tar.gz", False, True),
    ]


METADATA = (
    "Metadata-Version: 2.1\nName: apache-airflow\nVersion: 9.0.0\nClassifier: Programming Language :: Python :: 3.12\n"
)


def _wheel_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # 1 MiB of incompressible padding: the reader must seek past it, not download it
        z.writestr(zipfile.ZipInfo("airflow/big.bin"), os.urandom(1024 * 1024), compress_type=zipfile.ZIP_STORED)
        z.writestr("apache_airflow-9.0.0.dist-info/METADATA", METADATA)
    return out.getvalue()


def _sdist_bytes() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        data = METADATA.encode()
        info = tarfile.TarInfo("apache-airflow-9.0.0/PKG-INFO")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    # set per test by the server fixture
    files: ClassVar[dict[str, bytes]] = {}
    ranges: ClassVar[list[str]] = []
    range_support = True

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        header = self.headers.get("Range")
        if header and self.range_support:
            self.ranges.append(header)
            start, end = (int(x) for x in header.removeprefix("bytes=").split("-"))
            chunk = body[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{start + len(chunk) - 1}/{len(body)}")
        else:
            chunk = body
            self.send_response(200)
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files = {"/w.whl": _wheel_bytes(), "/s.tar.gz": _sdist_bytes(), "/m.whl.metadata": METADATA.encode()}
    _Handler.ranges = []
    _Handler.range_support = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _file(url, *, wheel=True, core=False):
    return IndexFile(
        filename=url.rsplit("/", 1)[1],
        url=url,
        version="9.0.0",
        is_wheel=wheel,
        requires_python=None,
        yanked=False,
        has_core_metadata=core,
    )


def test_wheel_metadata_is_read_with_a_few_ranges(server):
    text = IndexMetadataReader(requests.Session())(_file(server + "/w.whl"))
    assert text == METADATA
    fetched = sum(int(r.split("-")[1]) - int(r.removeprefix("bytes=").split("-")[0]) + 1 for r in _Handler.ranges)
    assert fetched < len(_Handler.files["/w.whl"]) / 2


def test_core_metadata_file_is_preferred(server):
    assert IndexMetadataReader(requests.Session())(_file(server + "/m.whl", core=True)) == METADATA
    assert _Handler.ranges == []


def test_missing_metadata_file_falls_back_to_the_wheel(server):
    # the index advertises core metadata, but /w.whl.metadata answers 404 (as on some mirrors)
    assert IndexMetadataReader(requests.Session())(_file(server + "/w.whl", core=True)) == METADATA


def test_sdist_pkg_info_is_streamed(server):
    assert IndexMetadataReader(requests.Session())(_file(server + "/s.tar.gz", wheel=False)) == METADATA


def test_server_without_ranges_is_a_clear_error(server):
    _Handler.range_support = False
    with pytest.raises(MetadataError, match="does not answer range requests"):
        IndexMetadataReader(requests.Session())(_file(server + "/w.whl"))
