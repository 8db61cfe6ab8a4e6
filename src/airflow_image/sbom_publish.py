"""Pushing an image's SBOM next to it in the registry, as an OCI artifact.

The artifact's manifest names the image as its `subject` (registries with the OCI referrers API list
it under the image) and is also tagged `sha256-<image digest hex>.sbom`, the tag scheme tools use to
find an attached SBOM on registries without that API. A registry that refuses OCI artifacts gets a
one-line note, and the SBOM stays a file.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urljoin

from .errors import RegistryError
from .registry import OCI_MANIFEST, Manifest, RegistryClient

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
