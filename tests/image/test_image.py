"""The production image's contract, checked on real containers."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import tempfile
from pathlib import Path

import pytest

from airflow_image.engine import INDEX_MEDIA_TYPES, platform_manifest_digest, read_local_index
from airflow_image.runner import SubprocessRunner

HERE = Path(__file__).parent
BUILD_TOOLS = ("gcc", "cc", "g++", "c++", "make", "node", "npm")


def test_airflow_version_is_the_requested_one(run, expected):
    result = run("airflow", "version")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == expected.airflow_version


def test_python_is_the_flavour(run, expected):
    result = run("python", "--version")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"Python {re.escape(expected.python)}\.\d+\s*", result.output), result.output


def test_pip_check_is_clean(run):
    result = run("bash", "-c", "pip check")
    assert result.exit_code == 0, result.output


def test_runs_as_airflow_uid_and_root_group(run, image):
    assert image.attrs["Config"]["User"] in ("50000:0", "50000")
    result = run("bash", "-c", "echo $(id -u):$(id -g)")
    assert result.output.strip() == "50000:0"


def test_the_airflow_user_owns_its_environment_and_not_the_folders_above_it(run):
    # COPY --chown (and --link) may give the folders it creates to the owner of what it copies
    result = run("bash", "-c", 'stat -c "%n %u:%g %a" "$VIRTUAL_ENV" "${VIRTUAL_ENV%/*}" /', user="0")
    assert result.exit_code == 0, result.output
    venv, parent, root = (line.split() for line in result.output.strip().splitlines()[-3:])
    assert venv[1] == "50000:0", result.output
    assert parent[1:] == ["0:0", "755"] and root[1:] == ["0:0", "755"], result.output


def test_db_migrate_on_sqlite_as_an_arbitrary_uid(run):
    result = run(
        "bash",
        "-c",
        "whoami && echo HOME=$HOME && airflow db migrate && ls $AIRFLOW_HOME",
        user="34567:0",
        environment={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////opt/airflow/airflow.db"},
    )
    assert result.exit_code == 0, result.output
    assert "airflow-34567" in result.output  # the entrypoint gave the uid a passwd entry
    assert "HOME=/home/airflow" in result.output
    assert "airflow.db" in result.output


@pytest.mark.parametrize("tool", BUILD_TOOLS)
def test_no_build_tools_in_the_final_image(run, tool):
    result = run("bash", "-c", f"command -v {tool} || ls /usr/bin/{tool}* 2>/dev/null")
    assert result.exit_code != 0, f"{tool} found: {result.output}"


def test_every_extra_installs_and_imports(run, expected):
    if expected.variant == "slim":
        assert expected.extras == ()
    script = (HERE / "check_extras.py").read_text()
    result = run("python", "-c", script, ",".join(expected.extras), timeout=900)
    assert result.exit_code == 0, result.output
    assert f"for {len(expected.extras)} extras; 0 failures" in result.output


def test_labels_describe_the_image(image, expected):
    labels = image.labels
    assert labels["org.apache.airflow.version"] == expected.airflow_version
    assert labels["org.opencontainers.image.version"] == expected.airflow_version
    assert labels["org.apache.airflow.python.version"] == expected.python
    assert labels["org.apache.airflow.uid"] == "50000"
    assert labels["org.apache.airflow.variant"] == expected.variant
    assert tuple(e for e in labels["org.apache.airflow.extras"].split(",") if e) == expected.extras
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", labels["org.opencontainers.image.created"])
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.base.name"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", labels["org.opencontainers.image.base.digest"])
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", labels["org.apache.airflow.image.inputs-hash"])


def test_base_digest_label_is_the_base_actually_used(client, image, expected):
    """The base's own digest, or, for a multi-platform base, its index's entry for this platform."""
    base_name = image.labels["org.opencontainers.image.base.name"]
    base = client.images.get(base_name)
    digests = {d.partition("@")[2] for d in base.attrs.get("RepoDigests") or []} | {base.id}
    index = read_local_index(SubprocessRunner(), base_name)
    if index is not None and index["digest"] in digests:
        digests.add(platform_manifest_digest(index, expected.platform))
    assert image.labels["org.opencontainers.image.base.digest"] in digests


def test_architecture_is_the_platform_asked_for(run, image, expected):
    """An emulated build that fell back to the host's platform would pass every other test."""
    machine = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[expected.platform]
    result = run("bash", "-c", "uname -m")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == machine
    index = read_local_index(SubprocessRunner(), expected.image)
    if index is not None and index["mediaType"] in INDEX_MEDIA_TYPES:
        assert platform_manifest_digest(index, expected.platform), f"{expected.image} has no {expected.platform} image"
    else:
        assert f"{image.attrs['Os']}/{image.attrs['Architecture']}" == expected.platform


def test_entrypoint_without_command_prints_airflow_help(run):
    result = run()
    assert result.exit_code == 0, result.output
    assert "usage: airflow" in result.output.lower()


def test_constraints_used_are_kept_in_the_image(run, expected):
    result = run("bash", "-c", "cat /usr/local/share/airflow/constraints.txt /usr/local/share/airflow/pin-airflow.txt")
    assert result.exit_code == 0, result.output
    assert f"apache-airflow=={expected.airflow_version}" in result.output


def _pem_blocks(text: str) -> set[str]:
    return {
        "".join(b.split()) for b in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    }


def test_ca_bundle_is_in_no_layer(client, image, run, expected):
    if expected.ca_bundle is None:
        pytest.fail("the build was not given a CA bundle; pass --ca-bundle so this test can check it stayed out")
    bundle = Path(expected.ca_bundle).read_bytes()
    # The public bundles the image ships anyway: the system store and certifi's Mozilla bundles
    # (pip vendors one, requests depends on one). A certificate in none of them (a proxy's CA, say)
    # came from the secret and must appear in no layer.
    public = run(
        "bash",
        "-c",
        "cat /etc/ssl/certs/ca-certificates.crt $(find / -xdev -path '*certifi*' -name cacert.pem 2>/dev/null)",
    ).output
    foreign = _pem_blocks(bundle.decode("ascii", "replace")) - _pem_blocks(public)
    needles = [block[:120].encode() for block in foreign]
    bundle_hash = hashlib.sha256(bundle).hexdigest()
    hits = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "image.tar"
        with saved.open("wb") as out:
            for chunk in image.save(named=True):
                out.write(chunk)
        with tarfile.open(saved) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            for layer_name in manifest[0]["Layers"]:
                with tarfile.open(fileobj=outer.extractfile(layer_name)) as layer:
                    for member in layer:
                        if not member.isfile() or member.size > 8 * 1024 * 1024:
                            continue
                        data = layer.extractfile(member).read()
                        if hashlib.sha256(data).hexdigest() == bundle_hash:
                            hits.append(f"{layer_name}:{member.name} is the bundle")
                        flat = b"".join(data.split()) if b"BEGIN CERTIFICATE" in data else b""
                        hits += [
                            f"{layer_name}:{member.name} holds a foreign certificate" for n in needles if n in flat
                        ]
    assert not hits, hits
