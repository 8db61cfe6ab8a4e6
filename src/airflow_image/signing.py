"""Signatures and signed attestations for released images, with cosign; and checking them.

A release signs every digest it pushed (the index and each platform's image) and attaches two signed
in-toto attestations to each: the CycloneDX SBOM the project generates and BuildKit's own SLSA
provenance, taken from the attestation manifest BuildKit pushed with the image (unsigned there).
Signatures are by digest, so every tag that names a digest is covered by signing it once.

The commands are pure argv lists; running them is the caller's (through the one runner).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidBuildOption, RegistryError, SigningError
from .registry import INDEX_TYPES, RegistryClient, is_registry_host, split_ref
from .runner import CommandRunner, Result

SBOM_TYPE = "cyclonedx"
PROVENANCE_TYPE = "slsaprovenance"
# What BuildKit writes (SLSA v0.2) and what cosign's `--type slsaprovenance` stands for.
PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v0.2"
_BUILDKIT_METADATA = "https://mobyproject.org/buildkit@v1#metadata"
# Keyless signatures from this project's release workflow carry this issuer and a workflow identity.
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class Signer:
    """How a release signs. `key` is any cosign key reference (file, env://VAR, KMS URI); "" signs
    keyless (OIDC, as in the release workflow). The key's password is cosign's: $COSIGN_PASSWORD."""

    key: str = ""
    transparency_log: bool = True  # off for private registries whose signatures must not go public


@dataclass(frozen=True)
class Verifier:
    """How `invoke verify` checks: a public key reference, or keyless with the expected signer."""

    key: str = ""
    identity_regexp: str = ""
    oidc_issuer: str = ""
    transparency_log: bool = True


def parse_signer(*, sign_key: str | None, keyless: bool, transparency_log: bool) -> Signer | None:
    """Command-line values → a Signer, or None for an unsigned release."""
    if sign_key is not None and not sign_key.strip():
        raise InvalidBuildOption(
            "--sign-key '' names no key "
            "(give a cosign key reference: a file, env://VAR, a KMS URI)")
    if sign_key and keyless:
        raise InvalidBuildOption(f"--sign-key {sign_key!r} and --sign-keyless exclude each other (choose one)")
    if not sign_key and not keyless:
        return None
    return Signer(key=(sign_key or "").strip(), transparency_log=transparency_log)


def parse_verifier(
    *, key: str | None, identity_regexp: str | None, oidc_issuer: str | None, transparency_log: bool, source_url: str
) -> Verifier:
    """A public key, or else keyless: by default the signer must be this repository's release workflow."""
    if key:
        if identity_regexp or oidc_issuer:
            raise InvalidBuildOption(f"--key {key!r} excludes --identity-regexp/--oidc-issuer (they are for keyless)")
        return Verifier(key=key, transparency_log=transparency_log)
    return Verifier(
        identity_regexp=identity_regexp or f"^{_regex_escape(source_url.rstrip('/'))}/\\.github/workflows/",
        oidc_issuer=oidc_issuer or GITHUB_OIDC_ISSUER,
        transparency_log=transparency_log,
    )


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


def _signer_flags(signer: Signer) -> list[str]:
    key = ["--key", signer.key] if signer.key else []
    return [*key, *([] if signer.transparency_log else ["--tlog-upload=false"])]


def sign_command(signer: Signer, ref: str) -> list[str]:
    return ["cosign", "sign", "--yes", *_signer_flags(signer), ref]


def attest_command(signer: Signer, ref: str, *, predicate_type: str, predicate: Path) -> list[str]:
    return ["cosign", "attest", "--yes", *_signer_flags(signer), "--type", predicate_type,
            "--predicate", str(predicate), ref]  # fmt: skip


def key_check_command(signer: Signer) -> list[str] | None:
    """Opens the private key (and so checks its password) before anything is pushed; None for keyless."""
    return ["cosign", "public-key", "--key", signer.key] if signer.key else None


def _verifier_flags(verifier: Verifier) -> list[str]:
    if verifier.key:
        identity = ["--key", verifier.key]
    else:
        identity = ["--certificate-identity-regexp", verifier.identity_regexp,
                    "--certificate-oidc-issuer", verifier.oidc_issuer]  # fmt: skip
    return [*identity, *([] if verifier.transparency_log else ["--insecure-ignore-tlog"])]


def verify_command(verifier: Verifier, ref: str) -> list[str]:
    return ["cosign", "verify", "--output", "json", *_verifier_flags(verifier), ref]


def verify_attestation_command(verifier: Verifier, ref: str, predicate_type: str) -> list[str]:
    return ["cosign", "verify-attestation", "--type", predicate_type, *_verifier_flags(verifier), ref]


# -- what BuildKit pushed ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformImage:
    platform: str
    digest: str


def platform_images(index: Mapping) -> tuple[PlatformImage, ...]:
    """An index's image entries (attestation manifests, `unknown/unknown`, left out)."""
    found = []
    for entry in index.get("manifests", []):
        platform = entry.get("platform") or {}
        if platform.get("os") in (None, "unknown"):
            continue
        found.append(PlatformImage(f"{platform['os']}/{platform['architecture']}", entry["digest"]))
    return tuple(found)


def provenance_predicates(client: RegistryClient, repository: str, digest: str) -> dict[str, dict]:
    """platform image digest → BuildKit's SLSA provenance predicate for it, read from the attestation
    manifests of the index at `digest`."""
    index = client.get_manifest(repository, digest)
    if index is None or index.media_type not in INDEX_TYPES:
        return {}
    predicates = {}
    for entry in index.data.get("manifests", []):
        annotations = entry.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") != "attestation-manifest":
            continue
        manifest = client.get_manifest(repository, entry["digest"])
        for layer in (manifest.data.get("layers", []) if manifest else []):
            if (layer.get("annotations") or {}).get("in-toto.io/predicate-type") == PROVENANCE_PREDICATE:
                statement = json.loads(client.blob(repository, layer["digest"]))
                predicates[annotations["vnd.docker.reference.digest"]] = statement["predicate"]
    return predicates


# -- checking what cosign verified ---------------------------------------------------------------------


def attested_predicates(output: str) -> list[dict]:
    """The predicates of the in-toto statements `cosign verify-attestation` printed (one DSSE envelope
    per line, its payload base64)."""
    predicates = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
        except (KeyError, ValueError, binascii.Error) as exc:
            raise SigningError(f"cosign printed an attestation that is not an in-toto envelope: {exc}") from None
        predicates.append(statement.get("predicate") or {})
    return predicates


def _same_repository(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url.strip().rstrip("/").removesuffix(".git").lower()

    return bool(a) and norm(a) == norm(b)


def provenance_source(predicate: Mapping) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(repository URLs, revisions) a provenance names: the build's SOURCE_URL/VCS_REF arguments
    (recorded in mode=max) and BuildKit's own VCS metadata."""
    args = ((predicate.get("invocation") or {}).get("parameters") or {}).get("args") or {}
    vcs = ((predicate.get("metadata") or {}).get(_BUILDKIT_METADATA) or {}).get("vcs") or {}
    sources = tuple(s for s in (args.get("build-arg:SOURCE_URL"), vcs.get("source")) if s)
    revisions = tuple(r for r in (args.get("build-arg:VCS_REF"), vcs.get("revision")) if r)
    return sources, revisions


def provenance_problems(predicates: Sequence[Mapping], *, source_url: str, revision: str) -> list[str]:
    """Why no provenance statement names this repository at the image's revision ([] if one does)."""
    if not predicates:
        return ["provenance: no SLSA provenance attestation"]
    named = [provenance_source(p) for p in predicates]
    if not any(any(_same_repository(s, source_url) for s in sources) for sources, _ in named):
        seen = sorted({s for sources, _ in named for s in sources}) or ["no repository"]
        return [f"provenance: names {', '.join(seen)}, not this repository ({source_url})"]
    if not revision:
        return [f"provenance: the image has no {REVISION_LABEL} label to compare with"]
    if not any(revision in revisions for sources, revisions in named
               if any(_same_repository(s, source_url) for s in sources)):  # fmt: skip
        seen = sorted({r for _, revisions in named for r in revisions}) or ["no revision"]
        return [f"provenance: records revision {', '.join(seen)}, the image's {REVISION_LABEL} is {revision}"]
    return []


# -- signing what a release pushed ---------------------------------------------------------------------


@dataclass(frozen=True)
class SigningStep:
    """One cosign command of a release's signing: a signature or an attestation on one digest."""

    ref: str  # repository@digest
    what: str  # "signature" | SBOM_TYPE | PROVENANCE_TYPE
    argv: tuple[str, ...]


def signing_steps(
    signer: Signer,
    repository_ref: str,
    index_digest: str,
    images: Sequence[PlatformImage],
    predicates: Mapping[tuple[str, str], Path],
) -> list[SigningStep]:
    """Every digest signed; each platform's image gets its SBOM and provenance, and the index (which a
    tag names) gets those of every platform it holds. `predicates` maps (platform, type) → file."""
    steps = []
    targets = [("", index_digest)] + [(i.platform, i.digest) for i in images if i.digest != index_digest]
    for platform, digest in targets:
        ref = f"{repository_ref}@{digest}"
        steps.append(SigningStep(ref, "signature", tuple(sign_command(signer, ref))))
        for image in images if not platform else [i for i in images if i.platform == platform]:
            for predicate_type in (SBOM_TYPE, PROVENANCE_TYPE):
                path = predicates[image.platform, predicate_type]
                argv = attest_command(signer, ref, predicate_type=predicate_type, predicate=path)
                steps.append(SigningStep(ref, predicate_type, tuple(argv)))
    return steps


def pushed_images(client: RegistryClient, repository: str, digest: str, *, platform: str) -> tuple[PlatformImage, ...]:
    """The platform images behind a pushed digest: an index's entries, or the one image itself."""
    manifest = client.get_manifest(repository, digest)
    if manifest is None:
        raise SigningError(f"{client.host}/{repository}@{digest} is not in the registry; nothing to sign")
    if manifest.media_type in INDEX_TYPES:
        return platform_images(manifest.data)
    return (PlatformImage(platform, digest),)


# -- verifying a released image -----------------------------------------------------------------------


_NOT_A_REFERENCE = "{!r} is not an image reference (HOST[:PORT]/NAME:TAG or HOST[:PORT]/NAME@sha256:…)"


def _reference(ref: str) -> tuple[str, str, str]:
    """`HOST/NAME:TAG` or `HOST/NAME@sha256:…` → (host, repository, tag or digest)."""
    if "@" in ref:
        name, _, digest = ref.partition("@")
        host, _, repository = name.partition("/")
        if not repository or not is_registry_host(host) or not digest.startswith("sha256:"):
            raise InvalidBuildOption(_NOT_A_REFERENCE.format(ref))
        return host, repository, digest
    try:
        parts = split_ref(ref)
    except RegistryError:
        raise InvalidBuildOption(_NOT_A_REFERENCE.format(ref)) from None
    return parts.host, parts.repository, parts.tag


def _last_line(result: Result) -> str:
    lines = [line for line in (result.stderr + "\n" + result.stdout).strip().splitlines() if line.strip()]
    return lines[-1].strip()[-300:] if lines else f"exit code {result.returncode}"


def verify_image(
    ref: str,
    verifier: Verifier,
    *,
    source_url: str,
    client: RegistryClient,
    runner: CommandRunner,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per thing that does not check out ([] when the image is signed, its SBOM and provenance
    attestations are present and signed, and the provenance names `source_url` at the image's revision).
    The tag is resolved once; everything is checked at that digest. A digest that carries nothing cosign
    made (another image pushed over a signed tag) is one line, not one per check."""
    host, repository, reference = _reference(ref)
    digest = client.head_manifest(repository, reference)
    if digest is None:
        return [f"{ref}: not in the registry"]
    repository_ref = f"{host}/{repository}"
    pinned = f"{repository_ref}@{digest}"
    images = pushed_images(client, repository, digest, platform="")
    failures = []
    for target in [digest, *(i.digest for i in images if i.digest != digest)]:
        what = ref if target == digest else f"{next(i.platform for i in images if i.digest == target)} image"
        result = runner.run(verify_command(verifier, f"{repository_ref}@{target}"), capture=True, check=False,
                            env=env, quiet=True, read_only=True)  # fmt: skip
        if result.returncode == 0:
            continue
        if target == digest and not carries_cosign_artifacts(client, repository, digest):
            # Nothing was ever signed or attested at this digest: the tag names another image than the one
            # signed. That is the one finding; the attestations' failures would only repeat it.
            return [f"signature: {ref} is {digest[:19]}, which carries no signature or attestation at all: not "
                    "the image that was signed (another image pushed over the tag, or never signed)"]
        failures.append(f"signature: {what} ({target[:19]}) has none valid for {_identity(verifier)}: "
                        f"{_last_line(result)}")
    attested = {}
    for predicate_type, name in ((SBOM_TYPE, "SBOM"), (PROVENANCE_TYPE, "provenance")):
        result = runner.run(verify_attestation_command(verifier, pinned, predicate_type), capture=True, check=False,
                            env=env, quiet=True, read_only=True)  # fmt: skip
        if result.returncode != 0:
            failures.append(
                f"{name} attestation: none signed by {_identity(verifier)} on {pinned}: {_last_line(result)}"
            )
            continue
        attested[predicate_type] = attested_predicates(result.stdout)
    if PROVENANCE_TYPE in attested:
        revisions = {(client.image_labels(repository, digest, platform=i.platform) or {}).get(REVISION_LABEL, "")
                     for i in images}  # fmt: skip
        for revision in sorted(revisions):
            failures += provenance_problems(attested[PROVENANCE_TYPE], source_url=source_url, revision=revision)
    return failures


def carries_cosign_artifacts(client: RegistryClient, repository: str, digest: str) -> bool:
    """Whether cosign left a signature or an attestation on this digest: the `sha256-<hex>.sig` and
    `.att` tags it pushes beside the image (whoever's key made them)."""
    stem = digest.replace(":", "-")
    return any(client.head_manifest(repository, f"{stem}.{kind}") is not None for kind in ("sig", "att"))


def _identity(verifier: Verifier) -> str:
    return f"key {verifier.key}" if verifier.key else f"{verifier.identity_regexp} from {verifier.oidc_issuer}"
