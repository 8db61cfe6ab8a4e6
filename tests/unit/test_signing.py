"""Signing and verification: cosign command lines, what gets signed and attested, and how a verified
provenance is judged. The registry and cosign are faked at their boundaries."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_image.errors import InvalidBuildOption
from airflow_image.registry import OCI_INDEX, Manifest
from airflow_image.runner import Result
from airflow_image.signing import (
    GITHUB_OIDC_ISSUER,
    PROVENANCE_PREDICATE,
    PlatformImage,
    Signer,
    Verifier,
    attest_command,
    attested_predicates,
    key_check_command,
    parse_signer,
    parse_verifier,
    platform_images,
    provenance_problems,
    provenance_source,
    sign_command,
    signing_steps,
    verify_attestation_command,
    verify_command,
    verify_image,
)

SOURCE = "https://github.com/apache/airflow-image"
REV = "0123456789abcdef0123456789abcdef01234567"
INDEX = "sha256:" + "1" * 64
AMD = "sha256:" + "a" * 64
ARM = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("sign_key", "keyless", "tlog", "expected"),
    [
        (None, False, True, None),
        ("cosign.key", False, True, Signer("cosign.key")),
        (" env://KEY ", False, False, Signer("env://KEY", transparency_log=False)),
        (None, True, True, Signer("")),
    ],
)
def test_parse_signer(sign_key, keyless, tlog, expected):
    assert parse_signer(sign_key=sign_key, keyless=keyless, transparency_log=tlog) == expected


@pytest.mark.parametrize(
    ("sign_key", "keyless", "message"),
    [("", False, "--sign-key '' names no key"), ("k.key", True, "--sign-key 'k.key' and --sign-keyless exclude")],
)
def test_parse_signer_refuses_in_one_line(sign_key, keyless, message):
    with pytest.raises(InvalidBuildOption, match=message) as raised:
        parse_signer(sign_key=sign_key, keyless=keyless, transparency_log=True)
    assert "\n" not in str(raised.value)


def test_keyless_verification_defaults_to_this_repositorys_workflows():
    verifier = parse_verifier(key=None, identity_regexp=None, oidc_issuer=None, transparency_log=True,
                              source_url=SOURCE + "/")  # fmt: skip
    assert verifier.oidc_issuer == GITHUB_OIDC_ISSUER
    assert verifier.identity_regexp == r"^https://github\.com/apache/airflow-image/\.github/workflows/"


def test_a_key_excludes_keyless_identities():
    with pytest.raises(InvalidBuildOption, match=r"--key 'k\.pub' excludes"):
        parse_verifier(key="k.pub", identity_regexp=".*", oidc_issuer=None, transparency_log=True, source_url=SOURCE)


@pytest.mark.parametrize(
    ("signer", "expected"),
    [
        (Signer("k.key"), ["cosign", "sign", "--yes", "--key", "k.key", "r@d"]),
        (Signer("k.key", transparency_log=False), ["cosign", "sign", "--yes", "--key", "k.key",
                                                   "--tlog-upload=false", "r@d"]),
        (Signer(""), ["cosign", "sign", "--yes", "r@d"]),
    ],
)  # fmt: skip
def test_sign_command(signer, expected):
    assert sign_command(signer, "r@d") == expected


def test_attest_command_names_type_and_predicate():
    argv = attest_command(Signer("k.key", transparency_log=False), "r@d", predicate_type="cyclonedx",
                          predicate=Path("/t/sbom.json"))  # fmt: skip
    assert argv == ["cosign", "attest", "--yes", "--key", "k.key", "--tlog-upload=false", "--type", "cyclonedx",
                    "--predicate", "/t/sbom.json", "r@d"]  # fmt: skip


@pytest.mark.parametrize(
    ("signer", "expected"),
    [(Signer("env://K"), ["cosign", "public-key", "--key", "env://K"]), (Signer(""), None)],
)
def test_key_check_opens_the_key_only_when_there_is_one(signer, expected):
    assert key_check_command(signer) == expected


@pytest.mark.parametrize(
    ("verifier", "flags"),
    [
        (Verifier(key="k.pub"), ["--key", "k.pub"]),
        (Verifier(key="k.pub", transparency_log=False), ["--key", "k.pub", "--insecure-ignore-tlog"]),
        (Verifier(identity_regexp="^x", oidc_issuer="https://issuer"),
         ["--certificate-identity-regexp", "^x", "--certificate-oidc-issuer", "https://issuer"]),
    ],
)  # fmt: skip
def test_verify_commands(verifier, flags):
    assert verify_command(verifier, "r:t") == ["cosign", "verify", "--output", "json", *flags, "r:t"]
    assert verify_attestation_command(verifier, "r:t", "slsaprovenance") == [
        "cosign", "verify-attestation", "--type", "slsaprovenance", *flags, "r:t"]  # fmt: skip


def _index(*entries: tuple[str, str]) -> dict:
    manifests = []
    for platform, digest in entries:
        os_name, _, arch = platform.partition("/")
        manifests.append({"digest": digest, "platform": {"os": os_name, "architecture": arch}})
    manifests.append({"digest": "sha256:" + "c" * 64, "platform": {"os": "unknown", "architecture": "unknown"},
                      "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                      "vnd.docker.reference.digest": entries[0][1]}})  # fmt: skip
    return {"mediaType": OCI_INDEX, "manifests": manifests}


def test_platform_images_leave_attestation_manifests_out():
    assert platform_images(_index(("linux/amd64", AMD), ("linux/arm64", ARM))) == (
        PlatformImage("linux/amd64", AMD), PlatformImage("linux/arm64", ARM))  # fmt: skip


def test_every_digest_is_signed_and_each_gets_its_platforms_attestations():
    images = (PlatformImage("linux/amd64", AMD), PlatformImage("linux/arm64", ARM))
    predicates = {(i.platform, t): Path(f"/t/{i.platform[6:]}.{t}") for i in images
                  for t in ("cyclonedx", "slsaprovenance")}  # fmt: skip
    steps = signing_steps(Signer("k.key"), "reg/airflow", INDEX, images, predicates)
    by_ref = {}
    for step in steps:
        by_ref.setdefault(step.ref, []).append((step.what, step.argv[step.argv.index("--predicate") + 1]
                                                if step.what != "signature" else ""))  # fmt: skip
    assert by_ref == {
        f"reg/airflow@{INDEX}": [("signature", ""), ("cyclonedx", "/t/amd64.cyclonedx"),
                                 ("slsaprovenance", "/t/amd64.slsaprovenance"), ("cyclonedx", "/t/arm64.cyclonedx"),
                                 ("slsaprovenance", "/t/arm64.slsaprovenance")],
        f"reg/airflow@{AMD}": [("signature", ""), ("cyclonedx", "/t/amd64.cyclonedx"),
                               ("slsaprovenance", "/t/amd64.slsaprovenance")],
        f"reg/airflow@{ARM}": [("signature", ""), ("cyclonedx", "/t/arm64.cyclonedx"),
                               ("slsaprovenance", "/t/arm64.slsaprovenance")],
    }  # fmt: skip


def _provenance(*, source=SOURCE, revision=REV, vcs=None) -> dict:
    args = {"build-arg:SOURCE_URL": source, "build-arg:VCS_REF": revision}
    predicate = {"invocation": {"parameters": {"args": args}}}
    if vcs:
        predicate["metadata"] = {"https://mobyproject.org/buildkit@v1#metadata": {"vcs": vcs}}
    return predicate


def test_provenance_source_reads_build_arguments_and_vcs_metadata():
    predicate = _provenance(vcs={"source": "https://example.org/fork.git", "revision": "f" * 40})
    assert provenance_source(predicate) == ((SOURCE, "https://example.org/fork.git"), (REV, "f" * 40))


@pytest.mark.parametrize(
    ("predicates", "revision", "problem"),
    [
        ([_provenance()], REV, None),
        ([_provenance(source=SOURCE + ".git/")], REV, None),
        ([_provenance(source="https://example.org/other")], REV, "names https://example.org/other, not this"),
        ([_provenance(revision="f" * 40)], REV, f"records revision {'f' * 40}, the image's"),
        ([_provenance()], "", "has no org.opencontainers.image.revision label"),
        ([], REV, "no SLSA provenance attestation"),
    ],
)
def test_provenance_problems(predicates, revision, problem):
    problems = provenance_problems(predicates, source_url=SOURCE, revision=revision)
    if problem is None:
        assert problems == []
    else:
        [line] = problems
        assert line.startswith("provenance: ") and problem in line


def _envelope(predicate: dict) -> str:
    statement = {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": PROVENANCE_PREDICATE,
                 "predicate": predicate}  # fmt: skip
    return json.dumps({"payloadType": "application/vnd.in-toto+json",
                       "payload": base64.b64encode(json.dumps(statement).encode()).decode(), "signatures": []})


def test_attested_predicates_decode_each_envelope():
    output = _envelope({"a": 1}) + "\n" + _envelope({"b": 2}) + "\n"
    assert attested_predicates(output) == [{"a": 1}, {"b": 2}]


# -- verify_image, with the registry and cosign faked ---------------------------------------------------


def _cosign_tags(*digests: str, kinds=("sig", "att")) -> frozenset:
    """The tags cosign pushes beside a digest it signed (`.sig`) or attested (`.att`)."""
    return frozenset(f"{d.replace(':', '-')}.{kind}" for d in digests for kind in kinds)


@dataclass
class FakeClient:
    host: str = "reg:5000"
    revision: str = REV
    cosign_tags: frozenset = _cosign_tags(INDEX, AMD)  # what a signed release left in the registry

    def head_manifest(self, repository, reference):
        if reference in self.cosign_tags:
            return "sha256:" + "f" * 64
        return INDEX if reference in ("3.3.2", INDEX) else None

    def get_manifest(self, repository, reference):
        body = json.dumps(_index(("linux/amd64", AMD))).encode()
        return Manifest(INDEX, OCI_INDEX, body) if reference == INDEX else None

    def image_labels(self, repository, reference, *, platform="linux/amd64"):
        return {"org.opencontainers.image.revision": self.revision}


@dataclass
class FakeCosign:
    """Answers cosign: signed digests and attested types are what a good release left."""

    signed: set = field(default_factory=lambda: {INDEX, AMD})
    attested: dict = field(default_factory=lambda: {"cyclonedx": {"components": []},
                                                    "slsaprovenance": _provenance()})  # fmt: skip
    dry_run: bool = False
    commands: list = field(default_factory=list)

    def echo(self, line):
        pass

    def run(self, argv, **kwargs):
        self.commands.append(list(argv))
        ref = argv[-1]
        if argv[1] == "verify":
            ok = ref.rpartition("@")[2] in self.signed
            return Result(tuple(argv), 0 if ok else 10, "[]" if ok else "", "" if ok else "Error: no signatures")
        kind = argv[argv.index("--type") + 1]
        if kind in self.attested:
            return Result(tuple(argv), 0, _envelope(self.attested[kind]) + "\n", "")
        return Result(tuple(argv), 10, "", "Error: none of the attestations matched the predicate type")


def _verify(cosign: FakeCosign, client: FakeClient | None = None, ref: str = "reg:5000/airflow:3.3.2") -> list[str]:
    return verify_image(ref, Verifier(key="k.pub"), source_url=SOURCE, client=client or FakeClient(), runner=cosign)


def test_a_good_release_verifies_at_the_digest_the_tag_names():
    cosign = FakeCosign()
    assert _verify(cosign) == []
    assert {c[-1] for c in cosign.commands} == {f"reg:5000/airflow@{INDEX}", f"reg:5000/airflow@{AMD}"}


@pytest.mark.parametrize(
    ("cosign", "client", "expected"),
    [
        (FakeCosign(signed={AMD}), FakeClient(), [f"signature: reg:5000/airflow:3.3.2 ({INDEX[:19]}) has none valid"]),
        (FakeCosign(signed={INDEX}), FakeClient(), [f"signature: linux/amd64 image ({AMD[:19]}) has none valid"]),
        (FakeCosign(attested={"slsaprovenance": _provenance()}), FakeClient(), ["SBOM attestation: none signed"]),
        (FakeCosign(attested={"cyclonedx": {}}), FakeClient(), ["provenance attestation: none signed"]),
        (FakeCosign(), FakeClient(revision="e" * 40), ["provenance: records revision"]),
        # a wrong key: the release's signatures are there, none is valid for this key
        (FakeCosign(signed=set(), attested={}), FakeClient(),
         ["signature: reg:5000/airflow:3.3.2", "signature: linux/amd64", "SBOM attestation", "provenance attestation"]),
        # attested but never signed, or signed but never attested: still one line per check
        (FakeCosign(signed=set(), attested={}), FakeClient(cosign_tags=_cosign_tags(INDEX, kinds=("att",))),
         ["signature: reg:5000/airflow:3.3.2", "signature: linux/amd64", "SBOM attestation", "provenance attestation"]),
        (FakeCosign(signed=set(), attested={}), FakeClient(cosign_tags=_cosign_tags(INDEX, kinds=("sig",))),
         ["signature: reg:5000/airflow:3.3.2", "signature: linux/amd64", "SBOM attestation", "provenance attestation"]),
        # another image pushed over the tag: nothing cosign made is on its digest, one line says so
        (FakeCosign(signed=set(), attested={}), FakeClient(cosign_tags=_cosign_tags(AMD)),
         [f"signature: reg:5000/airflow:3.3.2 is {INDEX[:19]}, which carries no signature or attestation at all: "
          "not the image that was signed"]),
    ],
)  # fmt: skip
def test_each_failure_is_one_line(cosign, client, expected):
    failures = _verify(cosign, client)
    assert len(failures) == len(expected)
    for line, start in zip(failures, expected, strict=True):
        assert line.startswith(start) and "\n" not in line, line


def test_a_verified_signature_is_not_second_guessed_by_where_it_is_stored():
    """cosign may keep signatures elsewhere than `.sig` tags (OCI referrers): its verdict decides."""
    assert _verify(FakeCosign(), FakeClient(cosign_tags=frozenset())) == []


def test_a_missing_tag_is_one_line():
    assert _verify(FakeCosign(), ref="reg:5000/airflow:9.9.9") == ["reg:5000/airflow:9.9.9: not in the registry"]


@pytest.mark.parametrize("ref", ["airflow:3.3.2", "reg:5000/airflow@md5:00", "reg:5000/airflow"])
def test_a_bad_reference_is_refused(ref):
    with pytest.raises(InvalidBuildOption, match="is not an image reference"):
        _verify(FakeCosign(), ref=ref)


def test_the_release_summary_says_what_was_signed_or_that_nothing_was():
    from airflow_image.release import format_signing
    from airflow_image.signing import SigningStep

    assert format_signing(None, None, skipped=[])[0].startswith("not signed: no --sign-key or --sign-keyless")
    steps = [SigningStep("r@a", "signature", ()), SigningStep("r@a", "cyclonedx", ()),
             SigningStep("r@a", "slsaprovenance", ())]  # fmt: skip
    [line] = format_signing(Signer("k.key"), (steps, 2.0, 1.5), skipped=[])
    assert line == ("signed 1 digests and attached 2 attestations (SBOM, provenance) with k.key in 1.5 s "
                    "(SBOMs generated before the push in 2.0 s)")  # fmt: skip
