"""Signing what a release or a rebuild pushed: the key opened before anything is built, then every
pushed digest signed and given its SBOM (the very document written and pushed beside the image) and
BuildKit's provenance as signed attestations; and the summary's line about it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import SigningError
from .registry import RegistryClient
from .release_plan import FlavourPlan
from .runner import CommandRunner
from .signing import (
    PROVENANCE_TYPE,
    SBOM_TYPE,
    Signer,
    SigningStep,
    key_check_command,
    provenance_predicates,
    pushed_images,
    signing_steps,
)


def check_signer(signer: Signer, runner: CommandRunner) -> None:
    """Opens the key (its password from $COSIGN_PASSWORD) before anything is built or pushed."""
    argv = key_check_command(signer) or ["cosign", "version"]
    result = runner.run(argv, capture=True, check=False, quiet=True, read_only=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise SigningError(f"cannot sign with {signer.key or 'keyless (OIDC)'}: {last}")


def attestation_steps(
    signer: Signer,
    client: RegistryClient,
    repository_ref: str,
    digest: str,
    sboms: Mapping[str, dict],
    *,
    workdir: Path,
) -> list[SigningStep]:
    """The cosign commands that sign a pushed digest and each platform image behind it and attest their
    SBOMs (`sboms`: platform image digest → its SBOM, as published by sbom_publish.publish_sboms) and
    BuildKit's provenance, with the predicates written to `workdir`."""
    repository = repository_ref.partition("/")[2]
    images = pushed_images(client, repository, digest, platform="")
    provenance = provenance_predicates(client, repository, digest)
    predicates = {}
    for image in images:
        what = image.platform or "the image"
        if image.digest not in provenance:
            raise SigningError(f"{repository_ref}@{digest} has no BuildKit provenance for {what}; "
                               "builds push it with --provenance=mode=max (containerd image store)")
        if image.digest not in sboms:
            raise SigningError(f"no SBOM was published for {what} ({image.digest[:19]}) of {repository_ref}@{digest}")
        stem = f"{image.digest.removeprefix('sha256:')[:16]}-{(image.platform or 'image').replace('/', '-')}"
        predicates[image.platform, SBOM_TYPE] = _write_json(workdir / f"{stem}.cdx.json", sboms[image.digest])
        predicates[image.platform, PROVENANCE_TYPE] = _write_json(workdir / f"{stem}.slsa.json",
                                                                  provenance[image.digest])
    return signing_steps(signer, repository_ref, digest, images, predicates)


def sign_pushed(
    signer: Signer,
    client: RegistryClient,
    pushed: Sequence[tuple[str, str, Mapping[str, dict]]],
    *,
    runner: CommandRunner,
    env: dict[str, str] | None,
) -> list[SigningStep]:
    """Signs and attests each pushed digest (`pushed`: repository ref, digest, its images' SBOMs by digest);
    returns the steps run."""
    with tempfile.TemporaryDirectory(prefix="airflow-image-attest-") as tmp:
        steps = []
        for repository_ref, digest, sboms in pushed:
            steps += attestation_steps(signer, client, repository_ref, digest, sboms, workdir=Path(tmp))
        return run_signing(steps, runner, env=env)


def run_signing(steps: list[SigningStep], runner: CommandRunner, *, env: dict[str, str] | None) -> list[SigningStep]:
    for step in steps:
        result = runner.run(list(step.argv), capture=True, check=False, env=env)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
            raise SigningError(f"cosign could not add the {step.what} to {step.ref}: {last}")
    return steps


def _write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def format_signing(
    signer: Signer | None, signing: tuple[list[SigningStep], float, float] | None, *, skipped: list[FlavourPlan]
) -> list[str]:
    if signer is None:
        return ["not signed: no --sign-key or --sign-keyless given, so no signatures and no signed SBOM or "
                "provenance attestations (BuildKit's unsigned provenance is attached)"]
    lines = []
    if signing is not None:
        steps, sbom_seconds, seconds = signing
        signatures = sum(1 for s in steps if s.what == "signature")
        lines.append(f"signed {signatures} digests and attached {len(steps) - signatures} attestations "
                     f"(SBOM, provenance) with {signer.key or 'keyless (OIDC)'} in {seconds:.1f} s "
                     f"(SBOMs generated before the push in {sbom_seconds:.1f} s)")
    for flavour in skipped:
        lines.append(f"{flavour.exact}: not built by this release, its signatures are left as they are")
    return lines
