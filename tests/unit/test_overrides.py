"""Security overrides without an engine: the file, its check against locks, the build arguments and
label, the Dockerfile's own reading of them, the SBOM marks, and `invoke overrides-check`."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from airflow_image.build import BuildOptions, plan_build
from airflow_image.engine import SourceInfo
from airflow_image.errors import ConfigError, MissingLock
from airflow_image.locks import committed_locks, lock_pins, pinned_version
from airflow_image.overrides import (
    LABEL,
    OVERRIDES_FILE,
    SBOM_PROPERTY,
    InvalidOverride,
    LockPins,
    Override,
    build_arg_value,
    check_overrides,
    format_standings,
    overrides_check,
    overrides_in_force,
    parse_label,
    parse_overrides,
    read_overrides,
    standings_exit_code,
)
from airflow_image.params import BuildRequest, build_args, buildx_command, inputs_hash
from airflow_image.sbom import merge_sbom, validate_sbom

SOURCE = SourceInfo(revision="c" * 40, commit_time="2026-11-25T00:00:00+00:00")


def entry(**fields: str) -> str:
    values = {"package": "urllib3", "version": "2.5.0", "advisory": "CVE-2025-50181", "reason": "redirects", **fields}
    return "[[override]]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items() if v is not None)


URLLIB3 = Override("urllib3", "2.5.0", "CVE-2025-50181", reason="redirects")
TENACITY = Override("tenacity", "9.2.1", "GHSA-xxxx-xxxx-xxxx", reason="test pin")

# -- the file ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("# nothing yet\n", ()),
        ("override = []\n", ()),
        (entry(), (URLLIB3,)),
        # names are canonical, versions normalised: they are compared with locks and installed metadata
        (entry(package="Foo_Bar.baz", version="1.02", advisory="GHSA-pq67-6m6q-mj2v"),
         (Override("foo-bar-baz", "1.2", "GHSA-pq67-6m6q-mj2v", reason="redirects"),)),
        (entry(python=">=3.11", airflow=">=3.3,<3.4"),
         (dataclasses.replace(URLLIB3, python=">=3.11", airflow=">=3.3,<3.4"),)),
        (entry() + entry(package="tenacity", version="9.2.1", advisory="GHSA-xxxx-xxxx-xxxx", reason="test pin"),
         (URLLIB3, TENACITY)),
    ],
)
def test_overrides_file_is_read(text, expected):
    assert parse_overrides(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entry(advisory=None), "override #1: no advisory; every override needs package, version, advisory"),
        (entry(advisory=None, reason=None), "override #1: no advisory, reason;"),
        (entry(advisory=""), "advisory '' is not an advisory id; accepted: CVE-YYYY-NNNN or GHSA-xxxx-xxxx-xxxx"),
        (entry(advisory="CVE-2025-123"), "advisory 'CVE-2025-123' is not an advisory id"),
        (entry(advisory="GHSA-0000-1111-2222"), "advisory 'GHSA-0000-1111-2222' is not an advisory id"),
        (entry(advisory="https://example.invalid/CVE-2025-50181"), "is not an advisory id"),
        (entry(package="urllib3==2.5.0"), "package 'urllib3==2.5.0' is not a distribution name"),
        (entry(package="urllib3[socks]"), "package 'urllib3[socks]' is not a distribution name; accepted: letters"),
        (entry(package=""), "override #1: package '' is not a distribution name"),
        (entry(version=">=2.5"), "version '>=2.5' is not an exact version; accepted: a PEP 440 version"),
        (entry(version="latest"), "override #1 (urllib3): version 'latest' is not an exact version"),
        ("[[override]]\npackage = 'urllib3'\nversion = 2.5\nadvisory = 'CVE-2025-50181'\nreason = 'x'\n",
         "override #1: version must be a quoted string"),
        (entry(reason=""), "override #1 (urllib3): reason must be one non-empty line"),
        (entry(reason=None) + 'reason = "two\\nlines"\n', "reason must be one non-empty line"),
        (entry(python="3.11+"), "python '3.11+' is not a version specifier; accepted: e.g. '>=3.11'"),
        (entry(airflow="3.3"), "airflow '3.3' is not a version specifier"),
        (entry(notes="x"), "override #1: unknown key(s) notes; accepted: package, version, advisory, reason"),
        (entry(package="apache-airflow", version="3.3.3"), "apache-airflow is the image's own version"),
        (entry() + entry(package="URLLIB3", version="2.6.0"),
         "override #2 repeats package 'urllib3' (override #1); accepted: one override per package"),
        ("overrides = []\n", "unknown top-level key(s) overrides; accepted: [[override]] tables"),
        ("override = 'urllib3==2.5.0'\n", "`override` must be an array of tables"),
        ("[[override]\n", "is not valid TOML"),
    ],
)
def test_bad_entries_are_one_line_naming_the_value_and_what_is_accepted(text, message):
    with pytest.raises(InvalidOverride) as raised:
        parse_overrides(text, source="overrides.toml")
    assert message in str(raised.value)
    assert str(raised.value).startswith("overrides.toml")
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ConfigError)


def test_the_committed_file_parses_and_reading_a_missing_file_is_an_error(root, tmp_path):
    read_overrides(root / OVERRIDES_FILE)  # documented format, entries or not
    with pytest.raises(InvalidOverride, match=r"^cannot read security overrides .*absent\.toml"):
        read_overrides(tmp_path / "absent.toml")


# -- against a lock ------------------------------------------------------------------------------------

LOCK = LockPins.from_text(
    "constraints/3.3.2/constraints-3.11.txt",
    "# generated\n# apache-airflow[celery]==3.3.2 resolved for Python 3.11\nTenacity==9.1.4\nurllib3==2.5.0\n",
)


@pytest.mark.parametrize(
    ("overrides", "python", "locks", "expected"),
    [
        ((TENACITY,), "3.11", [LOCK], (TENACITY,)),
        ((), "3.11", [LOCK], ()),
        # out of its scope the override is not applied, and not checked
        ((dataclasses.replace(URLLIB3, python="<3.11"), TENACITY), "3.11", [LOCK], (TENACITY,)),
        ((dataclasses.replace(URLLIB3, airflow=">=3.4"),), "3.11", [LOCK], ()),
        # no lock known (constraints none or a URL): every override in scope is applied
        ((URLLIB3,), "3.11", [], (URLLIB3,)),
    ],
)
def test_overrides_in_force(overrides, python, locks, expected):
    assert overrides_in_force(overrides, airflow_version="3.3.2", python=python, locks=locks) == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (URLLIB3, "override urllib3==2.5.0 (CVE-2025-50181): version 2.5.0 is not above the lock's 2.5.0 "
                  "(constraints/3.3.2/constraints-3.11.txt); accepted: a version above it"),
        (dataclasses.replace(URLLIB3, version="2.4.1"), "version 2.4.1 is not above the lock's 2.5.0"),
        (dataclasses.replace(URLLIB3, package="urllib4"),
         "constraints/3.3.2/constraints-3.11.txt pins no 'urllib4'; accepted: a package the lock pins"),
    ],
)
def test_an_override_that_does_not_raise_the_lock_is_refused(override, message):
    with pytest.raises(InvalidOverride) as raised:
        overrides_in_force((override,), airflow_version="3.3.2", python="3.11", locks=[LOCK])
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_lock_pins_are_canonical_and_skip_comments():
    assert lock_pins("# apache-airflow[x]==3.3.2 resolved\nZope.Interface==7.0\nfoo==1 ; python_version<'4'\n") == {
        "zope-interface": "7.0",
        "foo": "1",
    }
    assert pinned_version("Zope_Interface==7.0\n", "zope.interface") == "7.0"


# -- build arguments, label, inputs hash -------------------------------------------------------------

BASE = dict(airflow_version="3.3.2", python="3.11", base_image="python:3.11-slim-bookworm", tags=("a:1",),
            extras=("postgres", "celery"))


@pytest.mark.parametrize(
    ("overrides", "value"),
    [
        ((), None),
        ((TENACITY,), "tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx)"),
        ((TENACITY, URLLIB3), "tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx), urllib3==2.5.0 (CVE-2025-50181)"),
    ],
)
def test_the_build_argument_lists_the_overrides_in_force(overrides, value):
    args = dict(build_args(BuildRequest(**BASE, security_overrides=overrides)))
    assert args.get("AIRFLOW_SECURITY_OVERRIDES") == value
    argv = buildx_command(BuildRequest(**BASE, security_overrides=overrides), context=Path("."))
    assert (f"AIRFLOW_SECURITY_OVERRIDES={value}" in argv) == bool(value)
    # the label is that value; the image's record reads back as the same overrides (reasons stay in the file)
    assert parse_label(value or "") == tuple(dataclasses.replace(o, reason="") for o in overrides)


@pytest.mark.parametrize("bad", ["tenacity 9.2.1", "tenacity==9.2.1", "tenacity==9.2.1 GHSA-xxxx-xxxx-xxxx"])
def test_a_malformed_label_is_refused(bad):
    with pytest.raises(InvalidOverride, match=re.escape(f"{LABEL} entry {bad!r} is not NAME==VERSION (ADVISORY)")):
        parse_label(bad)


def test_a_changed_override_changes_the_inputs_hash_and_a_changed_reason_does_not():
    def digest(*overrides: Override) -> str:
        return inputs_hash(build_arg_pairs=build_args(BuildRequest(**BASE, security_overrides=overrides)), files=[])

    assert digest() != digest(TENACITY)
    assert digest(TENACITY) != digest(dataclasses.replace(TENACITY, version="9.2.2"))
    assert digest(TENACITY) == digest(dataclasses.replace(TENACITY, reason="reworded"))


def test_plan_build_applies_an_overrides_file_checked_against_the_lock(settings, matrix, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(entry(package="tenacity", version="9.2.1", advisory="GHSA-xxxx-xxxx-xxxx", reason="test pin"))
    options = BuildOptions(python="3.11", extras=("postgres", "celery"), security_overrides=good)
    planned = plan_build(settings, matrix, options, lookup=lambda ref: None, source=SOURCE)
    assert planned.security_overrides == (TENACITY,)
    assert ("AIRFLOW_SECURITY_OVERRIDES", "tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx)") in build_args(planned)
    default = plan_build(settings, matrix, dataclasses.replace(options, security_overrides=None),
                         lookup=lambda ref: None, source=SOURCE)
    assert default.inputs_hash != planned.inputs_hash
    # the lock pins tenacity 9.1.4: an override at or below it is refused before anything is built
    stale = tmp_path / "stale.toml"
    stale.write_text(entry(package="tenacity", version="9.1.4", advisory="GHSA-xxxx-xxxx-xxxx", reason="x"))
    with pytest.raises(InvalidOverride, match=r"version 9\.1\.4 is not above the lock's 9\.1\.4 \(constraints/"):
        plan_build(settings, matrix, dataclasses.replace(options, security_overrides=stale),
                   lookup=lambda ref: None, source=SOURCE)
    # without constraints nothing can be compared: the overrides in scope are passed on as they are
    free = plan_build(settings, matrix, dataclasses.replace(options, security_overrides=stale, constraints="none"),
                      lookup=lambda ref: None, source=SOURCE)
    assert [o.requirement for o in free.security_overrides] == ["tenacity==9.1.4"]


def test_plan_build_checks_a_constraints_file_from_docker_context_files(settings, matrix, tmp_path):
    context = tmp_path / "context"
    (context / "docker-context-files").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "docker-context-files" / "mine.txt").write_text("tenacity==9.3.0\n")
    overrides = tmp_path / "o.toml"
    overrides.write_text(entry(package="tenacity", version="9.2.1", advisory="GHSA-xxxx-xxxx-xxxx", reason="x"))
    options = BuildOptions(python="3.11", constraints="mine.txt", context=context, security_overrides=overrides)
    with pytest.raises(InvalidOverride, match=r"not above the lock's 9\.3\.0 \(docker-context-files/mine\.txt\)"):
        plan_build(settings, matrix, options, lookup=lambda ref: None, source=SOURCE)


# -- the Dockerfile's side -----------------------------------------------------------------------------


def dockerfile_overrides_script(root) -> str:
    """The Python the build stage runs on AIRFLOW_SECURITY_OVERRIDES, as the Dockerfile has it."""
    text = (root / "Dockerfile").read_text()
    match = re.search(r'^python - "\$\{AIRFLOW_SECURITY_OVERRIDES\}" .*?<<\'PY\'.*?\n(.*?)^PY$', text, re.M | re.S)
    assert match, "the Dockerfile no longer reads AIRFLOW_SECURITY_OVERRIDES with its inline script"
    return match[1]


def test_the_dockerfile_writes_the_overrides_and_the_kept_constraints_take_them(root, tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# generated\nsix==1.17.0\nTenacity==9.1.4\nurllib3==2.5.0\n")
    value = build_arg_value((TENACITY,))
    ran = subprocess.run(
        [sys.executable, "-c", dockerfile_overrides_script(root), value, tmp_path / "overrides.txt", constraints],
        capture_output=True, text=True, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    written = (tmp_path / "overrides.txt").read_text().splitlines()
    assert written[0].startswith("#") and written[1:] == ["tenacity==9.2.1  # GHSA-xxxx-xxxx-xxxx"]
    assert constraints.read_text().splitlines() == [
        "# generated", "six==1.17.0", "tenacity==9.2.1  # security override (GHSA-xxxx-xxxx-xxxx)", "urllib3==2.5.0"
    ]
    # what the Dockerfile writes is what the library reads back
    assert {k: v for k, v in lock_pins(constraints.read_text()).items() if k == "tenacity"} == {"tenacity": "9.2.1"}


def test_without_overrides_the_dockerfile_writes_an_empty_record_and_keeps_the_constraints(root, tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# generated\ntenacity==9.1.4\n")
    ran = subprocess.run(
        [sys.executable, "-c", dockerfile_overrides_script(root), "", tmp_path / "overrides.txt", constraints],
        capture_output=True, text=True, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # the file exists either way: the final stage copies it, and uv reads it as an empty overrides file
    assert [line[0] for line in (tmp_path / "overrides.txt").read_text().splitlines()] == ["#"]
    assert constraints.read_text() == "# generated\ntenacity==9.1.4\n"


def test_the_dockerfile_refuses_a_malformed_value_in_one_line(root, tmp_path):
    (tmp_path / "c.txt").write_text("tenacity==9.1.4\n")
    ran = subprocess.run(
        [sys.executable, "-c", dockerfile_overrides_script(root), "tenacity>=9.2", tmp_path / "o.txt",
         tmp_path / "c.txt"],
        capture_output=True, text=True, check=False,
    )
    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines() == [
        "ERROR: AIRFLOW_SECURITY_OVERRIDES entry 'tenacity>=9.2' is not NAME==VERSION (CVE-… or GHSA-…)"
    ]


def test_the_dockerfile_declares_the_label(root):
    assert f'{LABEL}="${{AIRFLOW_SECURITY_OVERRIDES}}"' in (root / "Dockerfile").read_text()


# -- the SBOM --------------------------------------------------------------------------------------------

PYTHON_BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {},
    "components": [
        {"type": "library", "bom-ref": "tenacity==9.2.1", "name": "tenacity", "version": "9.2.1",
         "purl": "pkg:pypi/tenacity@9.2.1"},
        {"type": "library", "bom-ref": "six==1.17.0", "name": "six", "version": "1.17.0",
         "purl": "pkg:pypi/six@1.17.0"},
    ],
    "dependencies": [{"ref": "tenacity==9.2.1"}, {"ref": "six==1.17.0"}],
}


@pytest.mark.parametrize(
    ("label", "marked"),
    [
        ("", {}),
        ("tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx)", {"tenacity": "GHSA-xxxx-xxxx-xxxx"}),
        # a component at another version was not installed by the override
        ("tenacity==9.3.0 (GHSA-xxxx-xxxx-xxxx)", {}),
        ("Six==1.17.0 (CVE-2099-0001), tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx)",
         {"six": "CVE-2099-0001", "tenacity": "GHSA-xxxx-xxxx-xxxx"}),
    ],
)
def test_the_sbom_marks_overridden_components(label, marked):
    labels = {LABEL: label} if label else {}
    document = merge_sbom(PYTHON_BOM, [], image="airflow:x", digest="sha256:" + "a" * 64, labels=labels)
    validate_sbom(document)
    found = {
        c["name"]: p["value"] for c in document["components"] for p in c.get("properties", [])
        if p["name"] == SBOM_PROPERTY
    }
    assert found == marked
    assert all("properties" not in c for c in PYTHON_BOM["components"])  # the generator's document is untouched


# -- invoke overrides-check --------------------------------------------------------------------------

LOCKS = [
    ("3.3.2", python, LockPins.from_text(f"constraints/3.3.2/constraints-{python}.txt", text))
    for python, text in (
        ("3.10", "tenacity==9.1.4\nurllib3==2.4.0\n"),
        ("3.11", "tenacity==9.1.4\nurllib3==2.6.0\n"),
        ("3.14", "tenacity==9.2.1\n"),
    )
]


@pytest.mark.parametrize(
    ("override", "verdict", "line"),
    [
        (dataclasses.replace(TENACITY, python="<3.14"), "keep",
         "keep    tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx): raises the pin of every lock in its scope (2)"),
        (TENACITY, "narrow",
         "narrow  tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx): raises 2 lock(s), but "
         "constraints/3.3.2/constraints-3.14.txt pins 9.2.1"),
        (dataclasses.replace(URLLIB3, python="<3.12"), "narrow",
         "narrow  urllib3==2.5.0 (CVE-2025-50181): raises 1 lock(s), but constraints/3.3.2/constraints-3.11.txt "
         "pins 2.6.0"),
        (dataclasses.replace(URLLIB3, python="==3.11"), "drop",
         "drop    urllib3==2.5.0 (CVE-2025-50181): no lock in its scope needs it "
         "(constraints/3.3.2/constraints-3.11.txt pins 2.6.0)"),
        (dataclasses.replace(URLLIB3, python=">=3.14"), "drop",
         "drop    urllib3==2.5.0 (CVE-2025-50181): no lock in its scope needs it "
         "(constraints/3.3.2/constraints-3.14.txt pins none)"),
        (dataclasses.replace(URLLIB3, airflow="<3"), "skip",
         "skip    urllib3==2.5.0 (CVE-2025-50181): no lock checked is in its scope"),
    ],
)
def test_overrides_check_on_recorded_locks(override, verdict, line):
    (standing,) = check_overrides((override,), LOCKS)
    assert standing.verdict == verdict
    assert format_standings((standing,)) == [line]
    assert standings_exit_code((standing,)) == (2 if verdict in ("drop", "narrow") else 0)


def test_overrides_check_reads_the_committed_locks(settings, tmp_path):
    root = tmp_path / "repo"
    for name, text in {"3.3.2/constraints-3.11.txt": "tenacity==9.1.4\n",
                       "3.3.2/constraints-3.11-arm64.txt": "tenacity==9.2.1\n",
                       "3.3.1/constraints-3.11.txt": "tenacity==9.1.2\n",
                       "3.3.1/notes.txt": "tenacity==1\n"}.items():
        (root / "constraints" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "constraints" / name).write_text(text)
    (root / OVERRIDES_FILE).write_text(entry(package="tenacity", version="9.2.1", advisory="GHSA-xxxx-xxxx-xxxx"))
    repo = dataclasses.replace(settings, root=root)
    assert [(v, p, path.name) for v, p, path in committed_locks(repo.constraints_dir)] == [
        ("3.3.1", "3.11", "constraints-3.11.txt"),
        ("3.3.2", "3.11", "constraints-3.11-arm64.txt"),
        ("3.3.2", "3.11", "constraints-3.11.txt"),
    ]
    (everywhere,) = overrides_check(repo)
    assert everywhere.verdict == "narrow"
    assert everywhere.satisfied == (("constraints/3.3.2/constraints-3.11-arm64.txt", "9.2.1"),)
    (older,) = overrides_check(repo, airflow_version="3.3.1")
    assert older.verdict == "keep" and older.raises == ("constraints/3.3.1/constraints-3.11.txt",)
    other = tmp_path / "other.toml"
    other.write_text("")
    assert overrides_check(repo, overrides_file=other) == ()
    assert format_standings(()) == ["no security overrides"]
    with pytest.raises(MissingLock, match=r"no committed locks for apache-airflow 9\.9\.9 .*versions with locks: "
                                          r"3\.3\.1, 3\.3\.2"):
        overrides_check(repo, airflow_version="9.9.9")


# -- the task itself: `invoke overrides-check --file …` against the committed locks ---------------------

# tenacity is pinned below 9.2.1 and urllib3 at or above 2.5.0 by every committed lock (checked below).
ABOVE_THE_LOCKS = entry(package="tenacity", version="9.2.1", advisory="GHSA-xxxx-xxxx-xxxx", reason="test pin")
SATISFIED_BY_THE_LOCKS = entry()  # urllib3 2.5.0


def invoke_overrides_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "overrides-check", *args], cwd=root, capture_output=True,
                          text=True, check=False, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def committed(root) -> list[tuple[str, str]]:
    """(lock as the task names it, its urllib3 pin) of every committed lock, the pins the table assumes."""
    locks = committed_locks(root / "constraints")
    assert locks, "no committed locks"
    for _, _, path in locks:
        text = path.read_text()
        assert Version(pinned_version(text, "tenacity")) < Version("9.2.1"), f"{path} moved: pick another pin"
        assert Version(pinned_version(text, "urllib3")) >= Version("2.5.0"), f"{path} moved: pick another pin"
    return [(str(path.relative_to(root)), pinned_version(path.read_text(), "urllib3")) for _, _, path in locks]


@pytest.mark.parametrize(
    ("text", "code", "verdicts"),
    [
        (ABOVE_THE_LOCKS, 0, ["keep"]),
        (ABOVE_THE_LOCKS + SATISFIED_BY_THE_LOCKS, 2, ["keep", "drop"]),
    ],
    ids=["nothing to drop", "one to drop"],
)
def test_invoke_overrides_check_lists_what_the_committed_locks_make_droppable(
    root, committed, tmp_path, text, code, verdicts
):
    overrides = tmp_path / "candidate-overrides.toml"
    overrides.write_text(text)
    ran = invoke_overrides_check(root, "--file", str(overrides))
    assert (ran.returncode, ran.stderr) == (code, ""), ran.stderr
    notes = "; ".join(f"{lock} pins {pin}" for lock, pin in committed)
    expected = {
        "keep": "keep    tenacity==9.2.1 (GHSA-xxxx-xxxx-xxxx): raises the pin of every lock in its scope "
        f"({len(committed)})",
        "drop": f"drop    urllib3==2.5.0 (CVE-2025-50181): no lock in its scope needs it ({notes})",
    }
    assert ran.stdout.splitlines() == [expected[v] for v in verdicts]


def test_invoke_overrides_check_refuses_a_bad_file_in_one_line(root, tmp_path):
    overrides = tmp_path / "candidate-overrides.toml"
    overrides.write_text(ABOVE_THE_LOCKS + entry(version=">=2.5"))
    ran = invoke_overrides_check(root, "--file", str(overrides))
    assert (ran.returncode, ran.stdout) == (1, "")
    assert ran.stderr.splitlines() == [
        "error: candidate-overrides.toml: override #2 (urllib3): version '>=2.5' is not an exact version; "
        "accepted: a PEP 440 version such as 2.5.0 (no ==, >= or ranges)"
    ]
