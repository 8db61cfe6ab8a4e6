"""Reads apache-airflow's release metadata from a package index, for the version matrix.

The Simple API (JSON form) lists every file with its Requires-Python; the classifiers live in
each file's core metadata. Not every index serves the separate `.metadata` file, so this falls
back to reading METADATA out of the wheel with HTTP range requests (a few KB instead of the whole
wheel), and for sdist-only releases to streaming the sdist until its PKG-INFO.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .errors import MetadataError
from .matrix import (
    AirflowRelease,
    VersionMatrix,
    choose_default_python,
    flavours_from_metadata,
    parse_core_metadata,
)

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
TIMEOUT = (10, 120)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    version: str
    is_wheel: bool
    requires_python: str | None
    yanked: bool
    has_core_metadata: bool


def index_files(simple: dict) -> list[IndexFile]:
    """The Simple API's file entries that are apache-airflow wheels or sdists, parsed."""
    files = []
    for entry in simple.get("files", []):
        name = entry["filename"]
        try:
            if name.endswith(".whl"):
                version, is_wheel = parse_wheel_filename(name)[1], True
            elif name.endswith((".tar.gz", ".zip")):
                version, is_wheel = parse_sdist_filename(name)[1], False
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        core = entry.get("core-metadata", entry.get("data-dist-info-metadata"))
        files.append(
            IndexFile(
                filename=name,
                url=entry["url"],
                version=str(version),
                is_wheel=is_wheel,
                requires_python=entry.get("requires-python"),
                yanked=bool(entry.get("yanked")),
                has_core_metadata=bool(core),
            )
        )
    return files


def metadata_candidates(files: Iterable[IndexFile]) -> list[IndexFile]:
    """Files of one version in the order their metadata is cheapest to read."""
    return sorted(files, key=lambda f: (not f.has_core_metadata, not f.is_wheel, f.filename))


def matrix_from_index(
    simple: dict,
    read_metadata: Callable[[IndexFile], str],
    *,
    preferred_python: str,
    known: VersionMatrix | None = None,
    workers: int = 8,
) -> VersionMatrix:
    """Builds the matrix; versions already in `known` are reused instead of read again."""
    by_version: dict[str, list[IndexFile]] = defaultdict(list)
    for f in index_files(simple):
        by_version[f.version].append(f)
    reused = {v: known.releases[v] for v in by_version if known is not None and v in known.releases}
    to_read = [v for v in by_version if v not in reused]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        texts = dict(
            zip(
                to_read,
                pool.map(lambda v: _first_metadata(metadata_candidates(by_version[v]), read_metadata), to_read),
                strict=True,
            )
        )
    upload_times = {e["filename"]: (e.get("upload-time") or "")[:10] for e in simple.get("files", [])}
    releases = dict(reused)
    for version, text in texts.items():
        files = by_version[version]
        meta_requires, classifiers = parse_core_metadata(text)
        requires = next((f.requires_python for f in files if f.requires_python), None) or meta_requires
        pythons = flavours_from_metadata(requires, classifiers)
        if not pythons:
            continue  # no Python X.Y classifier at all: nothing we could build for
        releases[version] = AirflowRelease(
            version=version,
            pythons=pythons,
            default_python=choose_default_python(pythons, preferred_python),
            requires_python=requires,
            yanked=all(f.yanked for f in files),
            upload_time=min((upload_times[f.filename] for f in files if upload_times.get(f.filename)), default=""),
        )
    return VersionMatrix(releases=releases)


def _first_metadata(candidates: list[IndexFile], read_metadata: Callable[[IndexFile], str]) -> str:
    errors = []
    for candidate in candidates:
        try:
            return read_metadata(candidate)
        except MetadataError as exc:
            errors.append(str(exc))
    raise MetadataError("; ".join(errors) or "no wheel or sdist to read metadata from")


class HttpRangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file that fetches only the byte ranges read."""

    def __init__(self, session: requests.Session, url: str, *, block: int = 64 * 1024) -> None:
        super().__init__()
        self._session, self._url, self._block = session, url, block
        head = session.get(url, headers={"Range": "bytes=0-0"}, timeout=TIMEOUT)
        if head.status_code != 206 or "content-range" not in head.headers:
            raise MetadataError(f"{url} does not answer range requests (HTTP {head.status_code})")
        self._size = int(head.headers["content-range"].rsplit("/", 1)[1])
        self._pos = 0
        self._blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _fetch_block(self, index: int) -> bytes:
        if index not in self._blocks:
            start = index * self._block
            end = min(self._size, start + self._block) - 1
            resp = self._session.get(self._url, headers={"Range": f"bytes={start}-{end}"}, timeout=TIMEOUT)
            if resp.status_code != 206:
                raise MetadataError(f"range request to {self._url} answered HTTP {resp.status_code}")
            self._blocks[index] = resp.content
        return self._blocks[index]

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        index, offset = divmod(self._pos, self._block)
        data = self._fetch_block(index)[offset : offset + len(buffer)]
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class IndexMetadataReader:
    """Reads one file's core metadata with the cheapest method the index allows."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def simple_page(self, index_url: str, project: str) -> dict:
        url = f"{index_url.rstrip('/')}/{project}/"
        resp = self._session.get(url, headers={"Accept": SIMPLE_JSON}, timeout=TIMEOUT)
        if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith(SIMPLE_JSON):
            raise MetadataError(f"{url} did not answer the Simple API in JSON (HTTP {resp.status_code})")
        return resp.json()

    def __call__(self, file: IndexFile) -> str:
        if file.has_core_metadata:
            resp = self._session.get(file.url + ".metadata", timeout=TIMEOUT)
            if resp.status_code == 200:
                return resp.text
        if file.is_wheel:
            return self._wheel_metadata(file)
        return self._sdist_pkg_info(file)

    def _wheel_metadata(self, file: IndexFile) -> str:
        try:
            with zipfile.ZipFile(io.BufferedReader(HttpRangeFile(self._session, file.url))) as wheel:
                names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                if not names:
                    raise MetadataError(f"{file.filename} has no .dist-info/METADATA")
                return wheel.read(names[0]).decode("utf-8")
        except (zipfile.BadZipFile, requests.RequestException) as exc:
            raise MetadataError(f"cannot read METADATA from {file.filename}: {exc}") from None

    def _sdist_pkg_info(self, file: IndexFile) -> str:
        try:
            with self._session.get(file.url, stream=True, timeout=TIMEOUT) as resp:
                if resp.status_code != 200:
                    raise MetadataError(f"{file.filename}: HTTP {resp.status_code}")
                resp.raw.decode_content = True
                if file.filename.endswith(".zip"):
                    with zipfile.ZipFile(io.BytesIO(resp.raw.read())) as archive:
                        return _pkg_info_from_names(archive.namelist(), archive.read, file.filename)
                with tarfile.open(fileobj=resp.raw, mode="r|gz") as archive:
                    for member in archive:  # streams: stops downloading once PKG-INFO is read
                        if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                            return archive.extractfile(member).read().decode("utf-8")
        except (tarfile.TarError, requests.RequestException) as exc:
            raise MetadataError(f"cannot read PKG-INFO from {file.filename}: {exc}") from None
        raise MetadataError(f"{file.filename} has no top-level PKG-INFO")


def _pkg_info_from_names(names: list[str], read: Callable[[str], bytes], filename: str) -> str:
    for name in names:
        if name.count("/") == 1 and name.endswith("/PKG-INFO"):
            return read(name).decode("utf-8")
    raise MetadataError(f"{filename} has no top-level PKG-INFO")
