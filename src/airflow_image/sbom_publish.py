"""Publishing the SBOMs of pushed images: one file per platform image next to the summary, and the same
document pushed next to the image in the registry, as an OCI artifact. A release and a rebuild both
publish through publish_sboms, after their pushes, with SBOMs generated before anything was pushed.

The artifact's manifest names the image as its `subject` (registries with the OCI referrers API list
it under the image) and is also tagged `sha256-<image digest hex>.sbom`, the tag scheme tools use to
find an attached SBOM on registries without that API. A registry that refuses OCI artifacts gets a
one-line note, and the SBOM stays a file.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urljoin

from .errors import RegistryError, SbomError
from .params import BuildRequest
from .registry import OCI_MANIFEST, Manifest, RegistryClient
from .release_plan import platform_tag
from .runner import CommandRunner
from .sbom import for_digest, local_image_sbom, validate_sbom, write_sbom
from .signing import pushed_images

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
_EMPTY = b"{}"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ArtifactClient(RegistryClient):
    """The registry client, plus the monolithic blob upload an artifact push needs."""

    def upload_blob(self, repository: str, data: bytes) -> str:
        digest = _sha256(data)
        scope = self._scope(repository, push=True)
        if self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=scope).status_code == 200:
            return digest
        started = self._request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope)
        if started.status_code != 202 or not started.headers.get("Location"):
            raise self._unexpected(started, f"POST {repository} blob upload")
        location = urljoin(self.base, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            scope=scope,
            headers={"Content-Type": "application/octet-stream"},
            data=data,
        )
        if done.status_code != 201:
            raise self._unexpected(done, f"PUT {repository} blob {digest[:19]}")
        return digest


def sbom_tag(image_digest: str) -> str:
    return image_digest.replace(":", "-") + ".sbom"


def sbom_manifest(document: bytes, *, subject: Manifest) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SBOM_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": _sha256(_EMPTY), "size": len(_EMPTY)},
        "layers": [
            {
                "mediaType": SBOM_MEDIA_TYPE,
                "digest": _sha256(document),
                "size": len(document),
                "annotations": {"org.opencontainers.image.title": "sbom.cdx.json"},
            }
        ],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.body)},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def push_sbom(client: ArtifactClient, repository: str, image_digest: str, document: dict) -> str:
    """Pushes the SBOM for the image `image_digest`; returns the tag it is found under."""
    subject = client.get_manifest(repository, image_digest)
    if subject is None:
        raise RegistryError(f"image {repository}@{image_digest} is not in registry {client.host}")
    data = json.dumps(document, sort_keys=True).encode()
    client.upload_blob(repository, _EMPTY)
    client.upload_blob(repository, data)
    body = sbom_manifest(data, subject=subject)
    tag = sbom_tag(image_digest)
    client.put_manifest(repository, tag, Manifest(_sha256(body), OCI_MANIFEST, body))
    return tag


def publish_sboms(
    client: RegistryClient,
    repository: str,
    digest: str,
    documents: Mapping[str, dict],
    *,
    name: str,
    out_dir: Path | None,
    out: Callable[[str], None],
) -> dict[str, dict]:
    """For each platform image behind the pushed `digest` (an index's entries, or the image itself): its
    SBOM (`documents`: platform → the document generated before the push; "" for the engine's own
    platform) made to name that image's digest, validated, written to `out_dir` as `<name>.cdx.json`
    (`<name>-<arch>.cdx.json` for each of several platforms) and pushed next to the image.
    Returns image digest → the document, which is the one a signer attests."""
    images = pushed_images(client, repository, digest, platform="")
    published = {}
    for image in images:
        document = documents.get(image.platform)
        if document is None and len(documents) == 1 and len(images) == 1:
            document = next(iter(documents.values()))
        if document is None:
            raise SbomError(f"no SBOM was generated for {image.platform or 'the image'} of {name} ({digest[:19]})")
        document = for_digest(document, image.digest)
        validate_sbom(document)
        stem = platform_tag(name, image.platform) if len(documents) > 1 else name
        if out_dir is not None:
            out(f"wrote {write_sbom(document, out_dir / f'{stem}.cdx.json')}")
        _push_beside(client, repository, image.digest, document, stem, out, kept=out_dir is not None)
        published[image.digest] = document
    return published


def _push_beside(
    client: RegistryClient,
    repository: str,
    digest: str,
    document: dict,
    name: str,
    out: Callable[[str], None],
    *,
    kept: bool,
) -> None:
    """Next to the image in the registry, where the registry takes OCI artifacts; else a note."""
    file = " (kept as a file)" if kept else ""
    if not callable(getattr(client, "upload_blob", None)):
        out(f"SBOM of {name} not pushed{file}: this registry client cannot upload blobs")
        return
    try:
        tag = push_sbom(client, repository, digest, document)
    except RegistryError as exc:
        out(f"SBOM of {name} not pushed{file}: {exc}")
        return
    out(f"pushed the SBOM of {name} ({digest[:19]}) as {tag}")


def generate_sboms(
    built: Mapping[tuple[str, str], BuildRequest], runner: CommandRunner
) -> tuple[dict[tuple[str, str], dict], float]:
    """The SBOM of every image just built (`built`: (name, platform) → its build), generated from the
    local images before anything is pushed, so that a failure leaves the registry untouched; and the
    seconds it took. Nothing in a dry run (there are no images)."""
    if runner.dry_run:
        return {}, 0.0
    started = time.monotonic()
    documents = {key: local_image_sbom(runner, request.tags[0], platform=key[1]) for key, request in built.items()}
    return documents, time.monotonic() - started
