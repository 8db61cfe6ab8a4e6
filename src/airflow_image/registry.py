"""A small client for the Distribution (OCI) registry HTTP API v2.

What a release needs and nothing more: check access, HEAD a manifest for its digest, read an
image's config labels and size, list tags, copy a manifest to another tag. Basic auth and the
bearer-token flow are both answered from the registry's own `WWW-Authenticate` challenge.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .credentials import Credentials
from .errors import RegistryAuthError, RegistryError, RegistryUnreachable

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class ImageRef:
    host: str
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"


def split_ref(ref: str) -> ImageRef:
    """`host:5000/ns/name:tag` → its parts; the host must be explicit (a release names its registry)."""
    host, sep, rest = ref.partition("/")
    name, colon, tag = rest.rpartition(":")
    if not sep or not colon or "/" in tag or not name or not is_registry_host(host):
        raise RegistryError(f"{ref!r} is not a registry image reference (HOST[:PORT]/NAME:TAG)")
    return ImageRef(host=host, repository=name, tag=tag)


def is_registry_host(part: str) -> bool:
    """The docker CLI's rule: the first path component is a host when it has a dot or port or is localhost."""
    return "." in part or ":" in part or part == "localhost"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_url(host: str) -> str:
    """Plain HTTP only on loopback, as the docker engine itself allows without configuration."""
    return f"{'http' if is_loopback(host) else 'https'}://{host}"


def make_session(*, retries: int = 3, backoff: float = 0.3) -> requests.Session:
    """A session that retries refused connections and 429/5xx answers with exponential back-off."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "PUT"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` → ("bearer", {realm, service, scope})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    @property
    def data(self) -> dict:
        return json.loads(self.body)


class RegistryClient:
    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.base = registry_url(host)
        self._credentials = credentials
        self._session = session if session is not None else make_session()
        self._timeout = timeout
        self._auth_headers: dict[str, dict[str, str]] = {}  # per scope, once a challenge was answered

    # -- transport and auth ------------------------------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str], **kwargs) -> requests.Response:
        try:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)
        except requests.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
            raise RegistryUnreachable(f"registry {self.host} is unreachable ({reason})") from None
        except requests.Timeout:
            raise RegistryUnreachable(f"registry {self.host} did not answer within {self._timeout:g} s") from None
        except requests.RequestException as exc:
            raise RegistryUnreachable(f"registry {self.host}: {type(exc).__name__}") from None

    def _request(self, method: str, path: str, *, scope: str, headers: dict[str, str] | None = None, **kwargs):
        url = urljoin(self.base, path)
        response = self._send(method, url, {**(headers or {}), **self._auth_headers.get(scope, {})}, **kwargs)
        if response.status_code == 401:
            # First contact for this scope, or an expired token: answer the challenge afresh, once.
            self._auth_headers[scope] = self._answer_challenge(response.headers.get("WWW-Authenticate", ""), scope)
            response = self._send(method, url, {**(headers or {}), **self._auth_headers[scope]}, **kwargs)
        return self._checked_auth(response, scope)

    def _checked_auth(self, response: requests.Response, scope: str) -> requests.Response:
        if response.status_code == 401:
            raise self._auth_error("rejected the credentials" if self._credentials else "requires credentials")
        if response.status_code == 403:
            raise self._auth_error(f"denied access ({scope or 'registry'})")
        return response

    def _auth_error(self, what: str) -> RegistryAuthError:
        if self._credentials is None:
            hint = "; log in with `docker login` or set AIRFLOW_IMAGE_REGISTRY_USER/PASSWORD"
            return RegistryAuthError(f"registry {self.host} {what}; none were found{hint}")
        return RegistryAuthError(
            f"registry {self.host} {what} for user {self._credentials.username!r} (from {self._credentials.source})"
        )

    def _answer_challenge(self, header: str, scope: str) -> dict[str, str]:
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if self._credentials is None:
                raise self._auth_error("requires credentials")
            return {"Authorization": self._basic()}
        if scheme == "bearer" and params.get("realm"):
            return {"Authorization": f"Bearer {self._token(params, scope)}"}
        raise RegistryError(f"registry {self.host} asked for unsupported authentication {header[:60]!r}")

    def _basic(self) -> str:
        pair = f"{self._credentials.username}:{self._credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _token(self, params: dict[str, str], scope: str) -> str:
        query = {"service": params.get("service", "")}
        wanted = params.get("scope") or scope
        if wanted:
            query["scope"] = wanted
        headers = {"Authorization": self._basic()} if self._credentials else {}
        try:
            response = self._session.get(params["realm"], params=query, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise RegistryUnreachable(f"token service of {self.host} is unreachable ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            what = "token service rejected the credentials" if self._credentials else "requires credentials"
            raise self._auth_error(what)
        if response.status_code != 200:
            raise RegistryError(f"token service of {self.host} answered HTTP {response.status_code}")
        try:
            body = response.json()
            return body.get("token") or body["access_token"]
        except (ValueError, KeyError):
            raise RegistryError(f"token service of {self.host} answered without a token") from None

    @staticmethod
    def _scope(repository: str, *, push: bool = False) -> str:
        return f"repository:{repository}:{'pull,push' if push else 'pull'}"

    def _unexpected(self, response: requests.Response, what: str) -> RegistryError:
        return RegistryError(f"registry {self.host} answered HTTP {response.status_code} to {what}")

    # -- API -----------------------------------------------------------------------------------------

    def check_access(self, repository: str, *, push: bool = False) -> None:
        """Fails now, with one line, when the registry is down or the credentials would not do."""
        scope = self._scope(repository, push=push)
        response = self._request("GET", "/v2/", scope=scope)
        if response.status_code != 200:
            raise self._unexpected(response, "GET /v2/")

    def _manifest_response(self, method: str, repository: str, reference: str) -> requests.Response | None:
        """A manifest request accepting every manifest type; None when the tag or digest is absent."""
        response = self._request(
            method,
            f"/v2/{repository}/manifests/{reference}",
            scope=self._scope(repository),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._unexpected(response, f"{method} {repository}:{reference}")
        return response

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, as the registry says (`Docker-Content-Digest`); None if absent."""
        response = self._manifest_response("HEAD", repository, reference)
        if response is None:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            return self.get_manifest(repository, reference).digest
        return digest

    def get_manifest(self, repository: str, reference: str) -> Manifest | None:
        response = self._manifest_response("GET", repository, reference)
        if response is None:
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        body = response.content
        if not media_type or media_type == "application/json":
            media_type = json.loads(body).get("mediaType", "")
        digest = response.headers.get("Docker-Content-Digest") or _sha256(body)
        return Manifest(digest=digest, media_type=media_type, body=body)

    def image_manifest(self, repository: str, reference: str, *, platform: str = "linux/amd64") -> Manifest | None:
        """The single-platform manifest behind a tag; from an index, the entry for `platform`."""
        manifest = self.get_manifest(repository, reference)
        if manifest is None or manifest.media_type not in INDEX_TYPES:
            return manifest
        entries = [m for m in manifest.data.get("manifests", []) if m.get("mediaType") not in INDEX_TYPES]
        os_name, _, arch = platform.partition("/")
        chosen = next(
            (
                m
                for m in entries
                if (m.get("platform") or {}).get("os") == os_name
                and (m.get("platform") or {}).get("architecture") == arch
            ),
            None,
        )
        if chosen is None:
            return None
        return self.get_manifest(repository, chosen["digest"])

    def blob(self, repository: str, digest: str) -> bytes:
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", scope=self._scope(repository))
        if response.status_code != 200:
            raise self._unexpected(response, f"GET blob {digest[:19]}")
        return response.content

    def _config(self, repository: str, manifest: Manifest) -> dict:
        config_digest = manifest.data.get("config", {}).get("digest")
        return json.loads(self.blob(repository, config_digest)) if config_digest else {}

    def image_labels(
        self, repository: str, reference: str, *, platform: str = "linux/amd64"
    ) -> dict[str, str] | None:
        """The image config's labels (GET manifest → config blob); None if the tag (or, behind an index,
        the platform) does not exist."""
        manifest = self.image_manifest(repository, reference, platform=platform)
        if manifest is None:
            return None
        return dict((self._config(repository, manifest).get("config") or {}).get("Labels") or {})

    def platforms(self, repository: str, reference: str) -> tuple[str, ...]:
        """The platforms a tag serves: an index's image entries (attestations, `unknown/unknown`, left
        out), or a single image's own os/architecture from its config; () if the tag does not exist."""
        manifest = self.get_manifest(repository, reference)
        if manifest is None:
            return ()
        if manifest.media_type in INDEX_TYPES:
            found = [m.get("platform") or {} for m in manifest.data.get("manifests", [])]
            return tuple(
                f"{p.get('os')}/{p.get('architecture')}" for p in found if p.get("os") not in (None, "unknown")
            )
        config = self._config(repository, manifest)
        return (f"{config.get('os', 'linux')}/{config.get('architecture', 'amd64')}",) if config else ()

    def image_size(self, repository: str, reference: str) -> int | None:
        """Bytes the image's layers take in the registry (compressed, as pulled)."""
        manifest = self.image_manifest(repository, reference)
        if manifest is None:
            return None
        return sum(int(layer.get("size", 0)) for layer in manifest.data.get("layers", []))

    def list_tags(self, repository: str, *, page_size: int | None = None) -> tuple[str, ...]:
        """Every tag of a repository, following `Link: <…>; rel="next"` pages; () if it does not exist."""
        path = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        tags: list[str] = []
        while path:
            response = self._request("GET", path, scope=self._scope(repository))
            if response.status_code == 404:
                return ()
            if response.status_code != 200:
                raise self._unexpected(response, f"GET {repository} tags")
            tags += response.json().get("tags") or []
            match = _NEXT_LINK.search(response.headers.get("Link", ""))
            path = match.group(1) if match else ""
        return tuple(sorted(tags))

    def put_manifest(self, repository: str, tag: str, manifest: Manifest) -> str:
        """Points `tag` at an existing manifest: a registry-side retag, no layer moves."""
        response = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            scope=self._scope(repository, push=True),
            headers={"Content-Type": manifest.media_type},
            data=manifest.body,
        )
        if response.status_code not in (200, 201):
            raise self._unexpected(response, f"PUT {repository}:{tag}")
        return response.headers.get("Docker-Content-Digest") or manifest.digest


def _sha256(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()
