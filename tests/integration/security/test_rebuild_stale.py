"""The security-patch process end to end on real images: a release built from a base in the local
registry (digest D1), a patched base pushed under the same tag (D2), `invoke check-base-images`
finding exactly the affected flavour, `invoke rebuild-stale` rebuilding, testing and pushing it with
its SBOM and change report, and a second check finding nothing stale.

Two real flavours (Python 3.11 and 3.13, the release tests' extras) are released; the patch is the Debian
security updates of 3.11's base, so only 3.11 is rebuilt and 3.13 must stay untouched. The layers
depend on the base's content, not its name, so a build on the registry's copy of a stand-in reuses what
earlier tests built on the stand-in; every build on a patched base is a full one.
"""

from __future__ import annotations

import json

from airflow_image.base_check import BASE_DIGEST_LABEL, BASE_NAME_LABEL, EXIT_CURRENT, EXIT_STALE
from airflow_image.build import BuildOptions, build_image
from airflow_image.push import push_environment, push_images, push_index, tag_for_release
from airflow_image.rebuild import EXTRAS_LABEL
from airflow_image.release_plan import parse_registry, platform_tag
from airflow_image.sbom import validate_sbom
from airflow_image.sbom_publish import sbom_tag

from ..release.conftest import PASSWORD, key_pair
from ..release.test_release import EXTRAS, check_published_sbom, invoke
from .conftest import docker
from .test_check_base_images import rows

VERSION = "3.3.2"
MOVING_311 = ("3.3.2-python3.11", "3.3-python3.11", "latest-python3.11")
UNTOUCHED = ("3.3.2-python3.13", "3.3-python3.13", "latest-python3.13")
# One string, as `--pytest-args` takes it (split like a shell would).
QUICK_TESTS = (
    "-k 'test_airflow_version_is_the_requested_one or test_python_is_the_flavour or test_labels"
    " or test_base_digest_label_is_the_base_actually_used'"
)


def test_patched_base_rebuilds_exactly_the_affected_flavour(
    registry, bases, settings, matrix, runner, ca_bundle, tmp_path
):
    client = registry.client()
    d1 = {p: bases.publish(p) for p in ("3.11", "3.13")}
    for python in ("3.11", "3.13"):
        exact = f"{registry.host}/airflow:{VERSION}-python{python}"
        build_image(settings, matrix, BuildOptions(airflow_version=VERSION, python=python, extras=EXTRAS,
                                                   base_image=bases.ref(python), ca_bundle=ca_bundle, tags=(exact,)),
                    runner)  # fmt: skip
        refs = tag_for_release(settings, matrix, image=exact, registry=parse_registry(registry.host), runner=runner)
        push_images(refs, credentials=registry.credentials, runner=runner)
        assert client.image_labels("airflow", f"{VERSION}-python{python}")[BASE_DIGEST_LABEL] == d1[python]
    before = {t: client.head_manifest("airflow", t) for t in MOVING_311 + UNTOUCHED}

    d2 = bases.patch("3.11")
    check = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert check.returncode == EXIT_STALE, check.stdout + check.stderr
    assert {t: r[3] for t, r in rows(check.stdout).items()} == {
        **dict.fromkeys(MOVING_311, "yes"),
        **dict.fromkeys(UNTOUCHED, "no"),
    }

    out = tmp_path / "security"
    rebuild = invoke(
        "rebuild-stale",
        "--registry",
        registry.host,
        "--pytest-args",
        QUICK_TESTS,
        "--out",
        str(out),
        docker_config=registry.docker_config,
    )
    assert rebuild.returncode == 0, rebuild.stdout[-6000:] + rebuild.stderr[-3000:]

    tags = set(client.list_tags("airflow"))
    dated = sorted(t for t in tags if t.startswith(f"{VERSION}-python3.11-2"))
    assert len(dated) == 1, tags
    after = {t: client.head_manifest("airflow", t) for t in (*MOVING_311, *UNTOUCHED, dated[0])}
    assert len({after[t] for t in (*MOVING_311, dated[0])}) == 1
    assert after[MOVING_311[0]] != before[MOVING_311[0]]
    assert client.image_labels("airflow", MOVING_311[0])[BASE_DIGEST_LABEL] == d2
    assert {t: after[t] for t in UNTOUCHED} == {t: before[t] for t in UNTOUCHED}

    # valid, naming the rebuilt platform image (inside the index BuildKit pushed), and pushed beside it
    check_published_sbom(client, dated[0], out / f"{dated[0]}.cdx.json")
    sbom = json.loads((out / f"{dated[0]}.cdx.json").read_text())
    purls = [c.get("purl", "") for c in sbom["components"]]
    assert any(p.startswith("pkg:pypi/psycopg2") for p in purls)
    assert not any(p.startswith("pkg:pypi/cyclonedx") for p in purls), "the generator reported itself"
    report = (out / f"{dated[0]}.changes.txt").read_text().splitlines()
    old, new = f"{registry.host}/airflow@{before[MOVING_311[0]]}", f"{registry.host}/airflow:{dated[0]}"
    assert report[0] == f"changes from {old} to {new}:"
    upgraded = [line for line in report if line.startswith("  debian: ~ ")]
    assert upgraded, f"the security updates upgraded no Debian package: {report}"
    assert "  python: no package changed" in report
    assert report[-1].startswith("  size: ")

    again = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert again.returncode == EXIT_CURRENT, again.stdout + again.stderr
    assert set(r[3] for r in rows(again.stdout).values()) == {"no"}


PLATFORMS = ("linux/amd64", "linux/arm64")


def release_multi_platform_stand_in(registry, tags, *, python: str, base: str, digests: dict[str, str], runner) -> str:
    """A release's labels on one small image per platform (its own base digest each), joined in one index
    under `tags` the way a multi-platform release pushes it."""
    platform_refs = []
    for platform in PLATFORMS:
        ref = f"{registry.host}/airflow:{platform_tag(tags[0], platform)}"
        labels = {
            "org.apache.airflow.version": VERSION,
            "org.apache.airflow.python.version": python,
            "org.apache.airflow.variant": "regular",
            EXTRAS_LABEL: ",".join(EXTRAS),
            BASE_NAME_LABEL: base,
            BASE_DIGEST_LABEL: digests[platform],
        }
        flags = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
        docker("build", "--quiet", "--platform", platform, *flags, "--tag", ref, "-", input=f"FROM {base}\n",
               registry=registry)  # fmt: skip
        platform_refs.append((ref, platform))
    with push_environment(runner, registry.host, None, registry.credentials) as env:
        push_index(registry.client(), "airflow", platform_refs, [f"{registry.host}/airflow:{t}" for t in tags],
                   runner=runner, env=env, action="pushed")  # fmt: skip
    return registry.client().head_manifest("airflow", tags[0])


def test_a_multi_platform_image_is_rebuilt_whole_as_one_index(registry, bases, settings, matrix, runner, tmp_path):
    """The base index moved for amd64 only: rebuild-stale rebuilds the flavour whole — both platforms,
    tested each (arm64 under emulation) — and pushes one index under the moving tags and the dated one,
    each platform labelled with its own base digest, with one SBOM per platform; afterwards nothing is
    stale. (Which platform's digest moved is the unit tests' table; arm64's build here is the one the
    multi-platform release test made, found in the layer cache because layers depend on the base's
    content, not its name.)"""
    client = registry.client()
    bases.publish("3.11")
    d1 = bases.platform_digests("3.11", PLATFORMS)
    before = release_multi_platform_stand_in(registry, MOVING_311, python="3.11", base=bases.ref("3.11"), digests=d1,
                                             runner=runner)  # fmt: skip
    assert sorted(client.platforms("airflow", MOVING_311[0])) == list(PLATFORMS)

    # the real upgrade is the test above
    bases.patch("3.11", platforms=("linux/amd64",), keep=("linux/arm64",), security_updates=False)
    d2 = bases.platform_digests("3.11", PLATFORMS)
    assert d1["linux/amd64"] != d2["linux/amd64"] and d1["linux/arm64"] == d2["linux/arm64"]
    check = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert check.returncode == EXIT_STALE, check.stdout + check.stderr

    out = tmp_path / "security"
    quick = "-k 'test_airflow_version_is_the_requested_one or test_architecture'"
    private, public = key_pair(tmp_path / "keys")
    rebuild = invoke("rebuild-stale", "--registry", registry.host, "--pytest-args", quick, "--out", str(out),
                     "--sign-key", str(private), "--no-tlog", docker_config=registry.docker_config,
                     env={"COSIGN_PASSWORD": PASSWORD})  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stdout[-6000:] + rebuild.stderr[-3000:]
    assert "signed 3 digests and attached 8 attestations" in rebuild.stdout, rebuild.stdout[-2000:]

    dated = sorted(t for t in client.list_tags("airflow") if t.startswith(f"{VERSION}-python3.11-2"))
    assert len(dated) == 1
    after = {client.head_manifest("airflow", t) for t in (*MOVING_311, dated[0])}
    assert len(after) == 1 and before not in after
    for platform in PLATFORMS:
        assert sorted(client.platforms("airflow", dated[0])) == list(PLATFORMS)
        assert client.image_labels("airflow", dated[0], platform=platform)[BASE_DIGEST_LABEL] == d2[platform]
        arch = platform.rpartition("/")[2]
        sbom = json.loads((out / f"{dated[0]}-{arch}.cdx.json").read_text())
        validate_sbom(sbom)
        image = client.image_manifest("airflow", dated[0], platform=platform).digest
        assert sbom["metadata"]["component"]["version"] == image
        assert client.get_manifest("airflow", sbom_tag(image)).data["subject"]["digest"] == image
        assert any(c.get("purl", "").startswith("pkg:deb/debian/libc6@") and f"arch={arch}" in c["purl"]
                   for c in sbom["components"])  # fmt: skip
    again = invoke("check-base-images", "--registry", registry.host, docker_config=registry.docker_config)
    assert again.returncode == EXIT_CURRENT, again.stdout + again.stderr
    verified = invoke("verify", f"{registry.host}/airflow:{dated[0]}", "--key", str(public), "--no-tlog",
                      docker_config=registry.docker_config)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
