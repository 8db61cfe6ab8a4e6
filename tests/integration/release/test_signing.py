"""Signed releases against a real registry: `invoke release --sign-key` with a key pair made here,
checked with plain cosign and with `invoke verify`; a replaced tag and a wrong key must fail.

One flavour (3.11, the release tests' extras) on the engine's own platform: the release tests build the same
image, and BuildKit gives it to both (from its cache, or while building it when both run at once).
Signatures stay out of the public transparency log (--no-tlog): nothing here may reach the network.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from airflow_image.release_plan import flavour_tags
from airflow_image.signing import attested_predicates

from .conftest import PASSWORD, cosign, key_pair
from .test_release import HOST_PLATFORM, QUICK_TESTS, VERSION, invoke, release_args

PYTHON = "3.11"


@pytest.fixture(scope="module")
def signed_release(registry_module, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    private, public = key_pair(keys / "release")
    _, other_public = key_pair(keys / "other")
    result = invoke(*release_args(registry_module.host, "--pytest-args", shlex.join(QUICK_TESTS),
                                  "--sign-key", str(private), "--no-tlog", pythons=(PYTHON,)),
                    docker_config=registry_module.docker_config, env={"COSIGN_PASSWORD": PASSWORD})  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return result, public, other_public


def failure_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without the commands the runner echoes (`$ …`)."""
    return [line for line in result.stderr.strip().splitlines() if line.strip() and not line.startswith("$ ")]


def _env(registry) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(registry.docker_config)}


def test_every_pushed_tag_verifies_with_plain_cosign(signed_release, registry_module, matrix, tmp_path):
    result, public, _ = signed_release
    assert "signed 2 digests and attached 4 attestations" in result.stdout, result.stdout[-2000:]
    client = registry_module.client()
    for tag in flavour_tags(matrix, matrix.get(VERSION), PYTHON, "regular"):
        ref = f"{registry_module.host}/airflow:{tag}"
        checked = cosign("verify", "--key", str(public), "--insecure-ignore-tlog", ref, cwd=tmp_path,
                         env=_env(registry_module))  # fmt: skip
        assert checked.returncode == 0, f"{ref}: {checked.stderr}"
    ref = f"{registry_module.host}/airflow:{VERSION}-python{PYTHON}"
    sbom = cosign("verify-attestation", "--key", str(public), "--insecure-ignore-tlog", "--type", "cyclonedx", ref,
                  cwd=tmp_path, env=_env(registry_module))  # fmt: skip
    assert sbom.returncode == 0, sbom.stderr
    [document] = attested_predicates(sbom.stdout)
    purls = [c.get("purl", "") for c in document["components"]]
    assert "pkg:pypi/apache-airflow@3.3.2" in purls and any(p.startswith("pkg:deb/debian/libc6@") for p in purls)
    provenance = cosign("verify-attestation", "--key", str(public), "--insecure-ignore-tlog", "--type",
                        "slsaprovenance", ref, cwd=tmp_path, env=_env(registry_module))  # fmt: skip
    assert provenance.returncode == 0, provenance.stderr
    [predicate] = attested_predicates(provenance.stdout)
    labels = client.image_labels("airflow", f"{VERSION}-python{PYTHON}")
    base_digest = labels["org.opencontainers.image.base.digest"]
    materials = ["sha256:" + m.get("digest", {}).get("sha256", "") for m in predicate.get("materials", [])]
    base_name = labels["org.opencontainers.image.base.name"]
    local_base = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", base_name],
                                capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # BuildKit names the base by what it resolved: the platform's image (the label) or the index holding it
    assert {base_digest, local_base} & set(materials), (base_digest, materials)


def test_invoke_verify_passes_for_the_release(signed_release, registry_module):
    _, public, _ = signed_release
    ref = f"{registry_module.host}/airflow:{VERSION}-python{PYTHON}"
    checked = invoke("verify", ref, "--key", str(public), "--no-tlog", docker_config=registry_module.docker_config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"verified {ref}" in checked.stdout


def test_a_wrong_public_key_fails_in_one_line_per_check(signed_release, registry_module):
    _, _, other_public = signed_release
    ref = f"{registry_module.host}/airflow:{VERSION}-python{PYTHON}"
    checked = invoke("verify", ref, "--key", str(other_public), "--no-tlog",
                     docker_config=registry_module.docker_config)  # fmt: skip
    assert checked.returncode == 1
    lines = failure_lines(checked)
    assert all(line.startswith("verify: ") for line in lines), lines
    assert any(line.startswith(f"verify: signature: {ref} (") for line in lines), lines
    assert any(line.startswith("verify: SBOM attestation: none signed by key") for line in lines), lines
    assert any(line.startswith("verify: provenance attestation: none signed by key") for line in lines), lines


def test_a_wrong_key_password_refuses_before_building(registry, tmp_path):
    private, _ = key_pair(tmp_path / "keys")
    result = invoke(*release_args(registry.host, "--sign-key", str(private), "--no-tlog", pythons=(PYTHON,)),
                    docker_config=registry.docker_config, env={"COSIGN_PASSWORD": "not-the-password"})  # fmt: skip
    assert result.returncode == 1
    [line] = failure_lines(result)
    assert line.startswith(f"error: cannot sign with {private}: "), line
    assert registry.client().list_tags("airflow") == ()
    assert "$ docker buildx build" not in result.stderr


# Last in the module: it pushes over a tag the tests above verify (and puts the signed index back after).
@pytest.fixture
def released_tag(signed_release, registry_module):
    """(the released tag's reference, the signed digest it names); the tag names that digest again after."""
    client = registry_module.client()
    tag = f"{VERSION}-python{PYTHON}"
    signed = client.get_manifest("airflow", tag)
    assert signed is not None
    yield f"{registry_module.host}/airflow:{tag}", signed.digest
    client.put_manifest("airflow", tag, signed)
    assert client.head_manifest("airflow", tag) == signed.digest


def test_another_image_pushed_over_the_released_tag_fails_verification_in_one_line(
    signed_release, registry_module, released_tag
):
    _, public, _ = signed_release
    ref, signed_digest = released_tag
    client = registry_module.client()
    # the base the release was built from, with one label: no Airflow build, nothing signed
    labels = client.image_labels("airflow", ref.rpartition(":")[2], platform=HOST_PLATFORM)
    base = labels["org.opencontainers.image.base.name"]
    env = {**os.environ, **_env(registry_module)}
    for argv, stdin in ((["docker", "build", "--quiet", "--network", "none", "--tag", ref, "-"],
                         f"FROM {base}\nLABEL org.example.tampered=yes\n"),
                        (["docker", "push", "--quiet", ref], None)):  # fmt: skip
        done = subprocess.run(argv, input=stdin, env=env, text=True, capture_output=True, check=False)
        assert done.returncode == 0, f"{argv}: {done.stderr[-2000:]}"
    pushed = client.head_manifest("airflow", ref.rpartition(":")[2])
    assert pushed is not None and pushed != signed_digest
    checked = invoke("verify", ref, "--key", str(public), "--no-tlog", docker_config=registry_module.docker_config)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert failure_lines(checked) == [
        f"verify: signature: {ref} is {pushed[:19]}, which carries no signature or attestation at all: not the "
        "image that was signed (another image pushed over the tag, or never signed)"
    ]
