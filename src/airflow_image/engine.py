"""Questions asked of the Docker engine and git, as commands through the runner."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
