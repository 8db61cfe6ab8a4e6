"""The generators of the docs' reference tables: Dockerfile ARGs, nox sessions, invoke tasks, tags."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_image.cli_options import build_parser
from airflow_image.docs_reference import (
    NOX_LIST_ALL,
    NOX_LIST_DEFAULT,
    BuildArgDoc,
    DockerfileArg,
    InvokeTask,
    NoxSession,
    build_docs,
    dockerfile_args,
    fill_markers,
    generators,
    invoke_tasks,
    list_nox_sessions,
    load_task_collection,
    parse_nox_listing,
    render_build_options,
    render_invoke_tasks,
    render_nox_sessions,
    render_tag_examples,
    tag_examples,
)
from airflow_image.errors import DocsError
from airflow_image.runner import Result
from airflow_image.tags import image_tags


@dataclass
class RecordingRunner:
    """Answers each command from a table and records how it was called."""

    answers: dict[tuple[str, ...], str] = field(default_factory=dict)
    calls: list[tuple[tuple[str, ...], dict]] = field(default_factory=list)
    dry_run: bool = False

    def echo(self, line: str) -> None:
        pass

    def run(self, argv, **kwargs):
        self.calls.append((tuple(argv), kwargs))
        return Result(tuple(argv), 0, self.answers.get(tuple(argv), ""))


# -- Dockerfile ARGs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        ('ARG A="1"\nFROM x\n', [DockerfileArg("A", ("global",), ("1",))]),
        (
            "FROM x AS build\nARG A=1\nARG B\n",
            [DockerfileArg("A", ("build",), ("1",)), DockerfileArg("B", ("build",), ())],
        ),
        (
            'ARG BASE="img:1"\nFROM ${BASE} AS build\nARG BASE\nFROM ${BASE} AS main\nARG BASE\n',
            [DockerfileArg("BASE", ("global", "build", "main"), ("img:1",))],
        ),
        (
            "FROM x AS build\nARG V=1\nFROM x AS main\nARG V=2\n",
            [DockerfileArg("V", ("build", "main"), ("1", "2"))],
        ),
        (
            "FROM x\nARG A=1 B='two words'\n",
            [DockerfileArg("A", ("stage 1",), ("1",)), DockerfileArg("B", ("stage 1",), ("two words",))],
        ),
        ("FROM x as lower\narg A=${B##*:}\n", [DockerfileArg("A", ("lower",), ("${B##*:}",))]),
        ("FROM x AS s\n# ARG NOT_AN_ARG=1\nRUN echo ARG X=1\n", []),
        ('FROM x AS s\nARG EMPTY=""\n', [DockerfileArg("EMPTY", ("s",), ("",))]),
    ],
)
def test_dockerfile_args(dockerfile, expected):
    assert list(dockerfile_args(dockerfile)) == expected


def test_real_dockerfile_args_keep_file_order_and_both_stages(root):
    args = {a.name: a for a in dockerfile_args((root / "Dockerfile").read_text())}
    # the base is named only by FROM lines and the labels: no layer's cache key holds its name
    assert args["PYTHON_BASE_IMAGE"].scopes == ("global", "main")
    # declared once with its default, then named by the stages that use it
    assert args["AIRFLOW_VERSION"].scopes[:3] == ("global", "build", "main")
    assert len(args["AIRFLOW_VERSION"].defaults) == 1
    assert args["AIRFLOW_PYTHON_VERSION"].defaults == ("${PYTHON_BASE_TAG%%-*}",)
    assert list(args).index("PYTHON_BASE_IMAGE") == 0


# -- build_prod options ----------------------------------------------------------------------------


def test_build_options_name_the_arg_each_sets():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--variant", choices=("regular", "slim"))
    parser.add_argument("--extras", help="a|b")
    parser.add_argument("--tag", action="append")
    parser.add_argument("--no-cache", action="store_true")
    docs = {"AIRFLOW_EXTRAS": BuildArgDoc("AIRFLOW_EXTRAS", "x", "user", "--extras")}
    assert render_build_options(parser, docs).splitlines()[2:] == [
        "| `--variant regular\\|slim` |  |  |",
        "| `--extras EXTRAS` | `AIRFLOW_EXTRAS` | a\\|b |",
        "| `--tag TAG` (repeatable) |  |  |",
        "| `--no-cache` |  |  |",
    ]


def test_real_build_options_are_all_listed():
    parser = build_parser("build_prod")
    text = render_build_options(parser, {})
    for action in parser._actions:
        if action.option_strings:
            assert f"| `{max(action.option_strings, key=len)}" in text


# -- nox sessions ----------------------------------------------------------------------------------

ALL = json.dumps(
    [
        {"session": "build_prod-3.12", "name": "build_prod-3.12", "description": "Build 3.12.", "tags": ["build_prod"]},
        {"session": "tests", "name": "tests", "description": "Unit tests.", "tags": ["ci"]},
        {"session": "lint", "name": "lint", "description": None, "tags": []},
    ]
)
DEFAULT = json.dumps([{"session": "tests", "name": "tests", "description": "Unit tests.", "tags": ["ci"]}])


def test_nox_listing_marks_the_default_sessions():
    assert parse_nox_listing(ALL, DEFAULT) == (
        NoxSession("build_prod-3.12", "Build 3.12.", ("build_prod",), default=False),
        NoxSession("tests", "Unit tests.", ("ci",), default=True),
        NoxSession("lint", "", (), default=False),
    )


@pytest.mark.parametrize(
    ("all_json", "message"),
    [("nox: error", "did not print JSON"), ('{"a": 1}', "printed dict, expected a list of sessions")],
)
def test_nox_listing_that_is_not_a_list_is_refused(all_json, message):
    with pytest.raises(DocsError, match=message):
        parse_nox_listing(all_json, "[]")


def test_nox_sessions_are_listed_for_one_version_from_the_root(tmp_path):
    runner = RecordingRunner({NOX_LIST_ALL: ALL, NOX_LIST_DEFAULT: DEFAULT})
    sessions = list_nox_sessions(runner, tmp_path, airflow_version="3.3.2")
    assert [s.name for s in sessions] == ["build_prod-3.12", "tests", "lint"]
    assert [argv for argv, _ in runner.calls] == [
        ("nox", "--list", "--json", "-k", "True"),
        ("nox", "--list", "--json"),
    ]
    for _, kwargs in runner.calls:
        assert kwargs["cwd"] == tmp_path
        assert kwargs["env"] == {"AIRFLOW_VERSION": "3.3.2"}
        assert kwargs["capture"] and kwargs["read_only"]


def test_nox_sessions_table():
    text = render_nox_sessions(parse_nox_listing(ALL, DEFAULT))
    assert "| `nox -s tests` | yes | `ci` | Unit tests. |" in text
    assert "| `nox -s build_prod-3.12` |  | `build_prod` | Build 3.12. |" in text


# -- invoke tasks ----------------------------------------------------------------------------------


def test_invoke_tasks_of_the_real_collection(root):
    tasks = {t.name: t for t in invoke_tasks(load_task_collection(root))}
    assert {"update-matrix", "update-locks", "release"} <= set(tasks)
    locks = dict(tasks["update-locks"].options)
    assert locks["--python PYTHON (repeatable)"] == "flavour(s) (default: all)"
    assert "--dry-run" in locks
    assert tasks["update-locks"].summary.startswith("Resolve and write constraints/")


def test_invoke_tasks_table():
    tasks = [
        InvokeTask("tag", "Give a tag.", (("IMAGE", "local image"), ("--dry-run", ""))),
        InvokeTask("bare", "No options.", ()),
    ]
    assert render_invoke_tasks(tasks).splitlines()[2:] == [
        "| `invoke tag` | `IMAGE`: local image<br>`--dry-run` | Give a tag. |",
        "| `invoke bare` |  | No options. |",
    ]


def test_tasks_file_without_a_collection_is_refused(tmp_path):
    (tmp_path / "tasks.py").write_text("x = 1\n")
    with pytest.raises(DocsError, match="has no `ns` collection"):
        load_task_collection(tmp_path)


# -- image tags ------------------------------------------------------------------------------------


def test_tag_examples_show_every_rule(settings, matrix):
    examples = {e.situation: e for e in tag_examples(settings, matrix)}
    newest = image_tags(examples["newest stable release, default flavour"].inputs)
    assert {"latest", f"{matrix.default_release().version}"} <= set(newest)
    assert image_tags(examples["build of the main branch"].inputs) == ("main-python3.12", "main")
    assert all(t.startswith("slim-") for t in image_tags(examples["slim variant"].inputs))
    older_line = examples["newest of an older line"].inputs
    minor = ".".join(older_line.airflow_version.split(".")[:2])
    assert f"{minor}-python{older_line.python}" in image_tags(older_line)
    assert not any(t.startswith("latest") for t in image_tags(older_line))
    older_patch = examples["older patch of the newest line"].inputs
    assert image_tags(older_patch) == (
        f"{older_patch.airflow_version}-python{older_patch.python}",
        older_patch.airflow_version,
    )


def test_tag_examples_table(settings, matrix):
    text = render_tag_examples(tag_examples(settings, matrix))
    assert "| build of the main branch | (main) | 3.12 | regular | `main-python3.12` `main` |" in text


# -- markers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("# T\n\n<!-- generated: a -->\n\ntail\n", "# T\n\nTABLE A\n\ntail\n"),
        ("<!--generated:a-->  \n", "TABLE A\n"),
        ("text `<!-- generated: a -->` inline\n", "text `<!-- generated: a -->` inline\n"),
        ("<!-- a plain comment -->\n", "<!-- a plain comment -->\n"),
    ],
)
def test_fill_markers(page, expected):
    assert fill_markers(page, {"a": lambda: "TABLE A\n"}) == expected


def test_unknown_marker_names_the_known_ones():
    with pytest.raises(DocsError, match="unknown generated section 'b'; known: a"):
        fill_markers("<!-- generated: b -->\n", {"a": lambda: ""})


def test_every_marker_in_the_pages_is_a_known_generator(root, settings, matrix):
    known = generators(root, settings, matrix, RecordingRunner(), build_parser=build_parser("build_prod"))
    used = set()
    for page in sorted((root / "docs").rglob("*.md")):
        for line in page.read_text().splitlines():
            if line.startswith("<!-- generated:"):
                used.add(line.split(":", 1)[1].strip(" ->"))
    assert used and used <= set(known)


def test_generators_run_each_section_once(root, settings, matrix):
    runner = RecordingRunner({NOX_LIST_ALL: ALL, NOX_LIST_DEFAULT: DEFAULT})
    sections = generators(root, settings, matrix, runner, build_parser=build_parser("build_prod"))
    first = sections["nox-sessions"]()
    assert sections["nox-sessions"]() == first
    assert len(runner.calls) == 2
    assert runner.calls[0][1]["env"] == {"AIRFLOW_VERSION": matrix.default_release().version}


def test_build_docs_runs_the_docs_session_from_the_root():
    runner = RecordingRunner()
    index = build_docs(runner, Path("/repo"))
    assert runner.calls == [(("nox", "-s", "docs"), {"cwd": Path("/repo")})]
    assert index == Path("/repo/site/index.html")
