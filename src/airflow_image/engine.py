"""Questions asked of the Docker engine and git, as commands through the runner."""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .runner import CommandRunner


@dataclass(frozen=True)
class LocalImage:
    ref: str
    id: str
    repo_digests: tuple[str, ...]
    labels: dict
    size: int
    layers: int
    architecture: str


def inspect_image(runner: CommandRunner, ref: str) -> LocalImage | None:
    result = runner.run(["docker", "image", "inspect", ref], capture=True, check=False, quiet=True, read_only=True)
    if result.returncode != 0 or not result.stdout.strip():
        return None
    data = json.loads(result.stdout)[0]
    return LocalImage(
        ref=ref,
        id=data["Id"],
        repo_digests=tuple(data.get("RepoDigests") or ()),
        labels=dict((data.get("Config") or {}).get("Labels") or {}),
        size=int(data.get("Size", 0)),
        layers=len((data.get("RootFS") or {}).get("Layers") or ()),
        architecture=data.get("Architecture", ""),
    )


def unpacked_size(runner: CommandRunner, ref: str) -> int:
    """Bytes of the image's files (apparent sizes, each hard link once), read with `du` in a throwaway
    container: what the classic image store reported as `Size`. Under the containerd image store
    `docker image inspect` reports the compressed content (what a node pulls) and `docker history`
    the snapshots' disk usage in whole blocks (~8% more for ~40,000 small files)."""
    result = runner.run(
        # as root: the image's own user may not read every folder (/var/cache/ldconfig)
        ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "du", ref, "-sxb", "/"],
        capture=True, quiet=True, read_only=True,
    )  # fmt: skip
    return int(result.stdout.split()[0])


def repository_of(ref: str) -> str:
    """`host:5000/a/b:tag` → `host:5000/a/b`; digests and tags stripped."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def base_digest(image: LocalImage) -> str:
    """The registry digest the base was pulled by, else its local image id.

    A base made on this host (a stand-in) was never pulled, so its id is the only stable name.
    """
    repo = repository_of(image.ref)
    for repo_digest in image.repo_digests:
        name, _, digest = repo_digest.partition("@")
        if name == repo or name.endswith("/" + repo):
            return digest
    # A digest under another name (the base pushed to some other registry) is no statement about this
    # name, and it would change whenever someone pushes the base elsewhere: the id is stable.
    return image.id


INDEX_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def host_platform(runner: CommandRunner) -> str:
    """The platform the engine builds for when none is asked for (`linux/amd64`)."""
    result = runner.run(
        ["docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
        capture=True, check=False, quiet=True, read_only=True,
    )  # fmt: skip
    answer = result.stdout.strip()
    return answer if result.returncode == 0 and "/" in answer else "linux/amd64"


def read_local_index(runner: CommandRunner, ref: str) -> dict | None:
    """The top-level manifest (an index for a multi-platform image) of an image in the engine's store.

    The engine's API (1.45) names only the top-level digest; `docker save` writes an OCI layout whose
    index.json points at it, and its blob is the document itself.
    """
    with tempfile.TemporaryDirectory(prefix="airflow-image-index-") as tmp:
        archive = Path(tmp) / "image.tar"
        result = runner.run(["docker", "save", "--output", str(archive), ref], capture=True, check=False, quiet=True,
                            read_only=True)
        if result.returncode != 0 or not archive.is_file():
            return None
        with tarfile.open(archive) as tar:
            try:
                layout = json.load(tar.extractfile("index.json"))
                top = layout["manifests"][0]
                document = json.load(tar.extractfile("blobs/" + top["digest"].replace(":", "/")))
            except (KeyError, IndexError, TypeError, ValueError):
                return None
    return {"digest": top["digest"], "mediaType": document.get("mediaType", top.get("mediaType", "")), **document}


def platform_manifest_digest(document: dict, platform: str) -> str | None:
    """The digest of `platform`'s image manifest in an index (None when the document is no index or
    lacks the platform); attestation manifests (platform unknown/unknown) never match."""
    if document.get("mediaType") not in INDEX_MEDIA_TYPES:
        return None
    os_name, _, architecture = platform.partition("/")
    for entry in document.get("manifests", ()):
        found = entry.get("platform") or {}
        if found.get("os") == os_name and found.get("architecture") == architecture:
            return entry.get("digest")
    return None


def platform_base_digest(
    image: LocalImage, platform: str | None, read_index: Callable[[str], dict | None]
) -> str:
    """What a build records as its base digest: for one platform built on a multi-platform base, that
    platform's manifest (what the build really used, and what a registry's index lists for it); for a
    multi-platform build (platform None), the base's own digest (the index)."""
    digest = base_digest(image)
    if platform is None:
        return digest
    document = read_index(image.ref)
    if document is None or document.get("digest") not in (digest, image.id):
        return digest
    return platform_manifest_digest(document, platform) or digest


def cached_index_reader(runner: CommandRunner, *, store: Path | None = None) -> Callable[[str], dict | None]:
    """read_local_index, asked once per image reference for the life of the returned reader and, with a
    `store` folder, once per image for good: under the containerd image store an image's id is the
    digest of its top-level manifest, so a document saved under that id can never go out of date.
    (`docker save` of a base takes seconds, which a no-op rebuild would otherwise pay every time.)"""
    answers: dict[str, dict | None] = {}

    def read(ref: str) -> dict | None:
        if ref not in answers:
            answers[ref] = _stored_index(runner, ref, store) if store is not None else read_local_index(runner, ref)
        return answers[ref]

    return read


def _stored_index(runner: CommandRunner, ref: str, store: Path) -> dict | None:
    image = inspect_image(runner, ref)
    if image is None or not image.id.startswith("sha256:"):
        return read_local_index(runner, ref)
    path = store / f"{image.id.removeprefix('sha256:')}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    document = read_local_index(runner, ref)
    if document is not None and document.get("digest") == image.id:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))
    return document


@dataclass(frozen=True)
class SourceInfo:
    revision: str
    commit_time: str


def source_info(runner: CommandRunner, root) -> SourceInfo:
    result = runner.run(
        ["git", "-C", str(root), "log", "-1", "--format=%H %cI"], capture=True, check=False, quiet=True, read_only=True
    )
    if result.returncode != 0 or not result.stdout.strip():
        return SourceInfo(revision="", commit_time="")
    revision, commit_time = result.stdout.split()
    return SourceInfo(revision=revision, commit_time=commit_time)
