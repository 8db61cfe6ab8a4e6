"""The Dockerfile's ARGs and their one place of documentation, docs/build-args.toml, agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_image.cli_options import build_parser
from airflow_image.docs_reference import (
    BUILD_ARG_DOCS,
    BuildArgDoc,
    DockerfileArg,
    check_build_arg_docs,
    dockerfile_args,
    option_strings,
    parse_build_arg_docs,
    render_build_args,
)
from airflow_image.errors import DocsError
from airflow_image.params import BuildRequest, build_args


@pytest.fixture(scope="module")
def real_args(root) -> tuple[DockerfileArg, ...]:
    return dockerfile_args((root / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def real_docs(root) -> dict[str, BuildArgDoc]:
    return parse_build_arg_docs((root / BUILD_ARG_DOCS).read_text())


def test_every_dockerfile_arg_is_documented_and_every_entry_is_an_arg(real_args, real_docs):
    check_build_arg_docs(real_args, real_docs, known_options=option_strings(build_parser("build_prod")))


def test_the_dockerfile_has_the_args_the_docs_rely_on(real_args):
    # guards the parser itself: if it stopped seeing ARGs, the test above would pass on nothing
    names = {a.name for a in real_args}
    assert {"PYTHON_BASE_IMAGE", "AIRFLOW_VERSION", "AIRFLOW_EXTRAS", "AIRFLOW_UID", "BUILD_INPUTS_HASH"} <= names
    assert len(real_args) >= 20


def test_every_arg_the_tooling_passes_is_declared_and_documented(real_args, real_docs):
    request = BuildRequest(
        airflow_version="3.3.2",
        python="3.12",
        base_image="python:3.12-slim-bookworm",
        tags=("airflow:x",),
        extras=("postgres",),
        additional_extras=("celery",),
        additional_python_deps=("pkg",),
        additional_dev_apt_deps=("gcc",),
        additional_runtime_apt_deps=("curl",),
        base_image_digest="sha256:" + "0" * 64,
        build_date="2026-01-01T00:00:00Z",
        vcs_ref="abc",
        source_url="https://example.invalid/repo",
        airflow_uid=1000,
        airflow_home="/srv/airflow",
        inputs_hash="sha256:" + "1" * 64,
        offline=True,
    )
    declared = {a.name for a in real_args}
    for name, _ in build_args(request):
        assert name in declared, f"the build passes --build-arg {name}, which the Dockerfile does not declare"
        assert name in real_docs


def test_docs_pages_pass_only_real_build_args(root, real_args):
    declared = {a.name for a in real_args}
    pages = sorted(Path(root / "docs").rglob("*.md"))
    mentioned = {
        (page.name, name)
        for page in pages
        for name in re.findall(r"--build-arg[ =]([A-Z_][A-Z0-9_]*)=", page.read_text())
    }
    assert mentioned, "no page shows a --build-arg example; the check below would prove nothing"
    assert [m for m in mentioned if m[1] not in declared] == []


def test_tooling_entries_are_the_label_inputs_and_derived_args(real_docs):
    tooling = {name for name, doc in real_docs.items() if doc.set_by == "tooling"}
    assert tooling == {
        "PYTHON_BASE_TAG",
        "AIRFLOW_PYTHON_VERSION",
        "BUILD_DATE",
        "VCS_REF",
        "SOURCE_URL",
        "BASE_IMAGE_DIGEST",
        "BUILD_INPUTS_HASH",
        "AIRFLOW_VARIANT",
        "CACHE_SALT",
    }


def _docs(**entries: str | None) -> dict[str, BuildArgDoc]:
    return {n: BuildArgDoc(name=n, description=f"what {n} does", set_by="user", option=o) for n, o in entries.items()}


ARGS = (DockerfileArg("A", ("build",), ("1",)), DockerfileArg("B", ("main",), ()))


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        (_docs(A=None), "Dockerfile ARG(s) without an entry in docs/build-args.toml: B"),
        (_docs(A=None, B=None, C=None), "docs/build-args.toml documents ARG(s) the Dockerfile does not declare: C"),
        (_docs(A="--nope", B=None), "names build_prod option(s) that do not exist: A (--nope)"),
        (_docs(), "without an entry in docs/build-args.toml: A, B"),
    ],
)
def test_disagreement_is_one_line_naming_the_args(docs, message):
    with pytest.raises(DocsError) as raised:
        check_build_arg_docs(ARGS, docs, known_options=["--yes"])
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_agreement_passes():
    check_build_arg_docs(ARGS, _docs(A="--yes", B=None), known_options=["--yes"])


@pytest.mark.parametrize("name", ["TARGETARCH", "TARGETPLATFORM", "BUILDPLATFORM"])
def test_buildkit_platform_args_need_no_entry(name):
    check_build_arg_docs((*ARGS, DockerfileArg(name, ("main",), ())), _docs(A=None, B=None), known_options=[])


def test_an_undocumented_arg_named_like_a_platform_arg_is_still_missing():
    with pytest.raises(DocsError, match=r"without an entry in docs/build-args\.toml: TARGETARCHITECTURE"):
        check_build_arg_docs((DockerfileArg("TARGETARCHITECTURE", ("main",), ()),), {}, known_options=[])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[A]\nset-by = 'user'\n", "[A] needs a non-empty description"),
        ("[A]\ndescription = '  '\nset-by = 'user'\n", "[A] needs a non-empty description"),
        ("[A]\ndescription = 'x'\nset-by = 'someone'\n", "set-by is 'someone'; accepted: user, tooling"),
        ("[A]\ndescription = 'x'\nset-by = 'user'\noption = 'extras'\n", "option must be a --flag"),
        ("[A]\ndescription = 'x'\nset-by = 'user'\ndefault = '1'\n", "unknown key(s) default"),
        ("A = 'x'\n", "[A] must be a table"),
        ("[A\n", "is not valid TOML"),
    ],
)
def test_malformed_docs_entries_are_refused(text, message):
    with pytest.raises(DocsError, match=re.escape(message)):
        parse_build_arg_docs(text)


def test_docs_entry_is_read_with_its_option():
    docs = parse_build_arg_docs('[A]\ndescription = """\nline one\nline two\n"""\nset-by = "tooling"\noption = "--a"\n')
    assert docs == {"A": BuildArgDoc(name="A", description="line one\nline two", set_by="tooling", option="--a")}


def test_rendered_reference_splits_user_and_tooling():
    args = (
        DockerfileArg("BASE", ("global", "build"), ("img:1",)),
        DockerfileArg("EXTRAS", ("build", "main"), ("a,b,c",)),
        DockerfileArg("DERIVED", ("build",), ()),
        DockerfileArg("DEPS", ("build",), ("a|b  c",)),
        DockerfileArg("HASH", ("main",), ("",)),
    )
    docs = {
        "BASE": BuildArgDoc("BASE", "the\nbase", "user", "--base"),
        "EXTRAS": BuildArgDoc("EXTRAS", "extras", "user"),
        "DERIVED": BuildArgDoc("DERIVED", "derived", "user"),
        "DEPS": BuildArgDoc("DEPS", "`x|y` picks one", "user"),
        "HASH": BuildArgDoc("HASH", "set for you", "tooling"),
    }
    text = render_build_args(args, docs)
    user, tooling = text.split("### Set by the build tooling")
    assert user.startswith("### Customisation points\n")
    assert (
        "`BASE`\n: the base\n\n  Default: `img:1` · declared in `FROM` lines, `build` · `build_prod` option `--base`\n"
        in user
    )
    # a comma-separated default is split so that it can wrap
    assert "Default: `a`, `b`, `c` · declared in `build`, `main`\n" in user
    assert "Default: none · declared in `build`\n" in user
    # outside a table a pipe is plain text: escaping it would show the backslash
    assert "`DEPS`\n: `x|y` picks one\n\n  Default: `a|b c` · declared in `build`\n" in user
    assert '`HASH`\n: set for you\n\n  Default: `""` · declared in `main`\n' in tooling
    assert "HASH" not in user


def test_an_arg_redeclared_in_a_stage_shows_the_global_default():
    args = (DockerfileArg("BASE", ("global", "build", "main"), ("img:1",)), DockerfileArg("OTHER", ("main",), ()))
    docs = {"BASE": BuildArgDoc("BASE", "b", "user"), "OTHER": BuildArgDoc("OTHER", "o", "user")}
    assert "Default: `img:1` · declared in `FROM` lines, `build`, `main`" in render_build_args(args, docs)


def test_buildkit_platform_args_are_left_out_of_the_reference():
    args = (DockerfileArg("TARGETARCH", ("build",), ()), DockerfileArg("OTHER", ("main",), ()))
    text = render_build_args(args, {"OTHER": BuildArgDoc("OTHER", "o", "user")})
    assert "`OTHER`" in text and "TARGETARCH" not in text
