"""The GitHub workflows keep the repository's rules (actionlint and zizmor check more in `nox -s lint`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_image.docs_reference import invoke_tasks, load_task_collection

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))


def run_scripts(text: str) -> list[str]:
    """The shell of every `run:` step, single-line or block."""
    scripts, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:- )?run: ?(.*)$", line)
        if not match:
            continue
        indent, rest = len(match.group(1)), match.group(2)
        if rest not in ("|", ">", "|-", ">-"):
            scripts.append(rest)
            continue
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following)
        scripts.append("\n".join(block))
    return scripts


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml", "base-images.yml", "docs.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_a_version_comment(workflow):
    uses = re.findall(r"^\s*(?:- )?uses: (.+)$", workflow.read_text(), re.M)
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", ref), ref


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_empty_at_the_top_and_set_per_job(workflow):
    text = workflow.read_text()
    assert re.search(r"^permissions: \{\}$", text, re.M)
    jobs = text.split("\njobs:\n", 1)[1]
    names = re.findall(r"^  ([\w-]+):$", jobs, re.M)
    assert names
    assert len(re.findall(r"^    permissions:", jobs, re.M)) == len(names)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_script(workflow):
    scripts = run_scripts(workflow.read_text())
    assert scripts
    for script in scripts:
        assert "${{" not in script, script


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_reach_steps_as_environment_variables(workflow):
    for line in workflow.read_text().splitlines():
        if "secrets." in line:
            assert re.fullmatch(r"\s+[A-Z_]+: \$\{\{ secrets\.[A-Z_]+ \}\}", line), line


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials_and_nothing_is_cached(workflow):
    text = workflow.read_text()
    assert text.count("actions/checkout@") == text.count("persist-credentials: false")
    assert not re.search(r"^\s+cache:", text, re.M)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_registry_host_is_written_into_a_workflow(workflow):
    # the registry comes from the repository's variables; no host name of any kind is written down
    # (a pattern rather than a list of hosts, so that none is named here either)
    host_like = re.compile(r"(?<![\w./-])[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?/[\w.-]+", re.I)
    assert host_like.findall(workflow.read_text()) == []
    assert "://" not in workflow.read_text()


def test_workflows_call_only_tasks_that_exist(root):
    existing = {t.name for t in invoke_tasks(load_task_collection(root))}
    called = set()
    for workflow in WORKFLOWS:
        for script in run_scripts(workflow.read_text()):
            called |= set(re.findall(r"(?:^\s*|[;&|]\s*)invoke ([a-z][\w-]*)", script, re.M))
    assert {"release", "push", "check-base-images", "rebuild-stale"} <= called
    assert called <= existing, f"workflows call tasks tasks.py does not define: {sorted(called - existing)}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("    - run: nox -s lint\n", ["nox -s lint"]),
        ("      run: |\n        a\n        b\n    - name: next\n", ["  a\n  b"]),
        ("  run: >\n    x\n\n    y\n  other: 1\n", ["  x\n\n  y"]),
    ],
)
def test_run_scripts_are_found(text, expected):
    assert [" ".join(s.split()) for s in run_scripts(text)] == [" ".join(e.split()) for e in expected]
