"""The registry client against a scripted registry: a requests transport adapter that answers like a
Distribution registry (and its token service) would, and records every request it got."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
import requests
from requests.adapters import BaseAdapter

from airflow_image.credentials import Credentials
from airflow_image.errors import RegistryAuthError, RegistryError, RegistryUnreachable
from airflow_image.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryClient,
    is_loopback,
    parse_challenge,
    registry_url,
    split_ref,
)

HOST = "127.0.0.1:5000"
BASE = f"http://{HOST}"
REALM = "http://127.0.0.1:5001/token"
GOOD = Credentials("rm", "s3cret", "test")
DIGEST = "sha256:" + "a" * 64
CONFIG_DIGEST = "sha256:" + "c" * 64
Handler = Callable[[requests.PreparedRequest], tuple[int, dict, bytes]]


class ScriptedRegistry(BaseAdapter):
    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        super().__init__()
        self.routes = routes
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.seen.append(request)
        path = request.path_url
        handler = self.routes.get((request.method, path)) or self.routes.get((request.method, path.split("?")[0]))
        status, headers, body = handler(request) if handler else (404, {}, b'{"errors":[{"code":"NOT_FOUND"}]}')
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.headers.update(headers)
        response._content = body
        return response

    def close(self):
        pass


def client_with(routes, *, credentials=GOOD) -> tuple[RegistryClient, ScriptedRegistry]:
    adapter = ScriptedRegistry(routes)
    session = requests.Session()
    session.mount("http://", adapter)
    return RegistryClient(HOST, credentials=credentials, session=session, timeout=5), adapter


def basic_protected(answer: Handler, credentials=GOOD) -> Handler:
    expected = "Basic " + base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()

    def handler(request):
        if request.headers.get("Authorization") != expected:
            return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b""
        return answer(request)

    return handler


def ok(body: bytes = b"{}", **headers) -> Handler:
    return lambda request: (200, {k.replace("_", "-"): v for k, v in headers.items()}, body)


@pytest.mark.parametrize(
    ("ref", "host", "repository", "tag"),
    [
        ("127.0.0.1:5000/airflow:3.3.2", "127.0.0.1:5000", "airflow", "3.3.2"),
        ("localhost/apache/airflow:latest-python3.12", "localhost", "apache/airflow", "latest-python3.12"),
        ("registry.example.org/a/b/airflow:slim-3.3.2", "registry.example.org", "a/b/airflow", "slim-3.3.2"),
    ],
)
def test_split_ref(ref, host, repository, tag):
    parts = split_ref(ref)
    assert (parts.host, parts.repository, parts.tag) == (host, repository, tag)
    assert str(parts) == ref


@pytest.mark.parametrize("ref", ["airflow:3.3.2", "apache/airflow:3.3.2", "127.0.0.1:5000/airflow", "127.0.0.1:5000/"])
def test_split_ref_needs_a_registry_host_and_a_tag(ref):
    with pytest.raises(RegistryError, match="HOST"):
        split_ref(ref)


@pytest.mark.parametrize(
    ("host", "loopback", "url"),
    [
        ("127.0.0.1:5000", True, "http://127.0.0.1:5000"),
        ("localhost:5000", True, "http://localhost:5000"),
        ("localhost", True, "http://localhost"),
        ("[::1]:5000", True, "http://[::1]:5000"),
        ("10.0.0.5:5000", False, "https://10.0.0.5:5000"),
        ("registry.example.org", False, "https://registry.example.org"),
    ],
)
def test_plain_http_only_on_loopback(host, loopback, url):
    assert is_loopback(host) is loopback
    assert registry_url(host) == url


def test_parse_challenge():
    assert parse_challenge('Bearer realm="https://a/token",service="reg",scope="repository:x:pull"') == (
        "bearer",
        {"realm": "https://a/token", "service": "reg", "scope": "repository:x:pull"},
    )
    assert parse_challenge('Basic realm="Registry"') == ("basic", {"realm": "Registry"})


def test_basic_auth_answers_the_challenge_once():
    client, registry = client_with({("GET", "/v2/"): basic_protected(ok())})
    client.check_access("airflow", push=True)
    client.check_access("airflow", push=True)
    assert [r.headers.get("Authorization", "")[:5] for r in registry.seen] == ["", "Basic", "Basic"]


def test_wrong_password_is_one_line_naming_user_and_host_never_the_password():
    wrong = Credentials("rm", "not-it", "environment")
    client, _ = client_with({("GET", "/v2/"): basic_protected(ok())}, credentials=wrong)
    with pytest.raises(RegistryAuthError) as caught:
        client.check_access("airflow", push=True)
    message = str(caught.value)
    assert message == f"registry {HOST} rejected the credentials for user 'rm' (from environment)"
    assert "not-it" not in message and "not-it" not in repr(wrong)


def test_missing_credentials_say_where_they_are_looked_for():
    client, _ = client_with({("GET", "/v2/"): basic_protected(ok())}, credentials=None)
    with pytest.raises(RegistryAuthError, match=r"requires credentials; none were found; log in with `docker login`"):
        client.check_access("airflow")


def test_forbidden_is_an_auth_error():
    client, _ = client_with({("GET", "/v2/"): lambda r: (403, {}, b"")})
    with pytest.raises(RegistryAuthError, match="denied access"):
        client.check_access("airflow", push=True)


class TokenService:
    """Hands out a new token per request, for the scope asked; the registry accepts only the latest."""

    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []  # (token, scope)

    def token(self, request):
        expected = "Basic " + base64.b64encode(b"rm:s3cret").decode()
        if request.headers.get("Authorization") != expected:
            return 401, {}, b'{"details":"incorrect username or password"}'
        query = dict(p.split("=", 1) for p in request.path_url.split("?", 1)[1].split("&"))
        token = f"t{len(self.issued)}"
        self.issued.append((token, requests.utils.unquote(query.get("scope", ""))))
        return 200, {}, json.dumps({"token": token}).encode()

    def protected(self, answer: Handler, scope: str) -> Handler:
        def handler(request):
            valid = {f"Bearer {t}" for t, s in self.issued[-1:] if scope in s.split(" ")}
            if request.headers.get("Authorization") not in valid:
                challenge = f'Bearer realm="{REALM}",service="test-registry",scope="{scope}"'
                return 401, {"WWW-Authenticate": challenge}, b""
            return answer(request)

        return handler


def test_bearer_token_flow_asks_the_token_service_with_basic_auth_and_the_scope():
    tokens = TokenService()
    routes = {
        ("GET", "/token"): tokens.token,
        ("HEAD", "/v2/apache/airflow/manifests/3.3.2"): tokens.protected(
            ok(b"", Docker_Content_Digest=DIGEST), "repository:apache/airflow:pull"
        ),
    }
    client, registry = client_with(routes)
    assert client.head_manifest("apache/airflow", "3.3.2") == DIGEST
    assert tokens.issued == [("t0", "repository:apache/airflow:pull")]
    head = [r for r in registry.seen if r.method == "HEAD"]
    assert [r.headers.get("Authorization") for r in head] == [None, "Bearer t0"]
    assert head[-1].headers["Accept"] == ", ".join(MANIFEST_TYPES)
    assert set(MANIFEST_TYPES) == {OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST}


def test_an_expired_token_is_renewed_once():
    tokens = TokenService()
    scope = "repository:airflow:pull"
    routes = {
        ("GET", "/token"): tokens.token,
        ("HEAD", "/v2/airflow/manifests/a"): tokens.protected(ok(b"", Docker_Content_Digest=DIGEST), scope),
    }
    client, _ = client_with(routes)
    client.head_manifest("airflow", "a")
    tokens.issued.append(("revoked-elsewhere", scope))  # the token the client holds is no longer the valid one
    assert client.head_manifest("airflow", "a") == DIGEST
    assert [t for t, _ in tokens.issued] == ["t0", "revoked-elsewhere", "t2"]


def test_token_service_rejecting_the_password_is_an_auth_error():
    tokens = TokenService()
    routes = {
        ("GET", "/token"): tokens.token,
        ("GET", "/v2/"): tokens.protected(ok(), "repository:airflow:pull,push"),
    }
    client, _ = client_with(routes, credentials=Credentials("rm", "wrong", "docker config"))
    with pytest.raises(RegistryAuthError, match="token service rejected the credentials for user 'rm'"):
        client.check_access("airflow", push=True)


def test_missing_manifest_is_none():
    client, _ = client_with({("GET", "/v2/"): ok()})
    assert client.head_manifest("airflow", "nope") is None
    assert client.image_labels("airflow", "nope") is None


def test_tags_follow_link_pagination():
    routes = {
        ("GET", "/v2/airflow/tags/list?n=2"): ok(
            b'{"name":"airflow","tags":["b","a"]}', Link='</v2/airflow/tags/list?n=2&last=b>; rel="next"'
        ),
        ("GET", "/v2/airflow/tags/list?n=2&last=b"): ok(b'{"name":"airflow","tags":["c"]}'),
    }
    client, registry = client_with(routes)
    assert client.list_tags("airflow", page_size=2) == ("a", "b", "c")
    assert [r.path_url for r in registry.seen] == ["/v2/airflow/tags/list?n=2", "/v2/airflow/tags/list?n=2&last=b"]


def test_tags_of_a_repository_that_does_not_exist_are_empty():
    client, _ = client_with({})
    assert client.list_tags("airflow") == ()


def _manifest(layers=(100, 250)) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": CONFIG_DIGEST},
            "layers": [{"digest": f"sha256:{i}", "size": s} for i, s in enumerate(layers)],
        }
    ).encode()


def test_labels_and_size_come_from_the_platform_manifest_behind_an_index():
    index = json.dumps(
        {
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": "sha256:arm",
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
                {"mediaType": OCI_MANIFEST, "digest": DIGEST, "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
    ).encode()
    config = json.dumps({"config": {"Labels": {"org.apache.airflow.version": "3.3.2"}}}).encode()
    routes = {
        ("GET", "/v2/airflow/manifests/latest"): ok(index, Content_Type=OCI_INDEX),
        ("GET", f"/v2/airflow/manifests/{DIGEST}"): ok(_manifest(), Content_Type=DOCKER_MANIFEST),
        ("GET", f"/v2/airflow/blobs/{CONFIG_DIGEST}"): ok(config),
    }
    client, _ = client_with(routes)
    assert client.image_labels("airflow", "latest") == {"org.apache.airflow.version": "3.3.2"}
    assert client.image_size("airflow", "latest") == 350


def test_put_manifest_retags_with_the_same_bytes_and_type():
    body = _manifest()
    received = {}

    def put(request):
        received.update(body=request.body, type=request.headers["Content-Type"])
        return 201, {"Docker-Content-Digest": DIGEST}, b""

    routes = {
        ("GET", f"/v2/airflow/manifests/{DIGEST}"): ok(
            body, Content_Type=DOCKER_MANIFEST, Docker_Content_Digest=DIGEST
        ),
        ("PUT", "/v2/airflow/manifests/latest"): put,
    }
    client, _ = client_with(routes)
    manifest = client.get_manifest("airflow", DIGEST)
    assert client.put_manifest("airflow", "latest", manifest) == DIGEST
    assert received == {"body": body, "type": DOCKER_MANIFEST}


def test_unreachable_registry_is_one_line():
    class Refusing(BaseAdapter):
        def send(self, request, **kwargs):
            raise requests.ConnectionError(
                "HTTPConnectionPool(...): Max retries exceeded ([Errno 111] Connection refused)"
            )

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://", Refusing())
    with pytest.raises(RegistryUnreachable) as caught:
        RegistryClient(HOST, session=session).check_access("airflow")
    assert str(caught.value) == f"registry {HOST} is unreachable (connection refused)"


def test_unexpected_status_names_the_request():
    client, _ = client_with({("GET", "/v2/"): lambda r: (500, {}, b"")})
    with pytest.raises(RegistryError, match=r"answered HTTP 500 to GET /v2/"):
        client.check_access("airflow")
