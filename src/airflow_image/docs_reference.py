"""Reference content of the docs site, generated from the sources every time the site is built.

docs/conf.py replaces each `<!-- generated: NAME -->` line of a page with the output of the
generator NAME (see `generators`). Nothing generated is committed, so nothing can go stale; what
can drift — a Dockerfile ARG without documentation, documentation of an ARG that no longer exists —
fails `check_build_arg_docs`, which both the docs build and the unit tests run.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DocsError
from .matrix import VersionMatrix
from .runner import CommandRunner
from .settings import ProjectSettings
from .tags import TagInputs, image_tags, released_versions

BUILD_ARG_DOCS = Path("docs") / "build-args.toml"
GLOBAL_SCOPE = "global"
SET_BY = ("user", "tooling")
MARKER = re.compile(r"^<!--\s*generated:\s*(\S+)\s*-->[ \t]*$", re.M)


def _cell(text: str) -> str:
    """Table cells are one line; a `|` would end the cell early."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code outside tables, where a `|` needs no escape."""
    return f"`{' '.join(text.split())}`" if text else '`""`'


@dataclass(frozen=True)
class DockerfileArg:
    name: str
    scopes: tuple[str, ...]  # GLOBAL_SCOPE (before the first FROM, usable in FROM lines) and/or stage names
    defaults: tuple[str, ...]  # distinct explicit defaults, in file order; empty when none is written


@dataclass(frozen=True)
class BuildArgDoc:
    name: str
    description: str
    set_by: str  # "user": a customisation point; "tooling": filled in by the build sessions
    option: str | None = None  # the build_prod option that sets it


def dockerfile_args(text: str) -> tuple[DockerfileArg, ...]:
    """Every ARG of a Dockerfile, in the order of first declaration, with where it is declared."""
    scopes: dict[str, list[str]] = {}
    defaults: dict[str, list[str]] = {}
    scope = GLOBAL_SCOPE
    stage_count = 0
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        instruction = words[0].upper()
        if instruction == "FROM":
            stage_count += 1
            lowered = [w.lower() for w in words]
            scope = words[lowered.index("as") + 1] if "as" in lowered[2:] else f"stage {stage_count}"
        elif instruction == "ARG":
            for token in shlex.split(line.split(None, 1)[1] if len(words) > 1 else ""):
                name, has_default, value = token.partition("=")
                scopes.setdefault(name, [])
                defaults.setdefault(name, [])
                if scope not in scopes[name]:
                    scopes[name].append(scope)
                if has_default and value not in defaults[name]:
                    defaults[name].append(value)
    return tuple(DockerfileArg(n, tuple(scopes[n]), tuple(defaults[n])) for n in scopes)


def parse_build_arg_docs(text: str, *, source: str = str(BUILD_ARG_DOCS)) -> dict[str, BuildArgDoc]:
    """docs/build-args.toml: one table per ARG with `description`, `set-by` and optionally `option`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocsError(f"{source} is not valid TOML: {exc}") from None
    docs: dict[str, BuildArgDoc] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise DocsError(f"{source}: [{name}] must be a table with description and set-by, got {entry!r}")
        unknown = sorted(set(entry) - {"description", "set-by", "option"})
        if unknown:
            raise DocsError(
                f"{source}: [{name}] has unknown key(s) {', '.join(unknown)}; known: description, set-by, option"
            )
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            raise DocsError(f"{source}: [{name}] needs a non-empty description")
        set_by = entry.get("set-by")
        if set_by not in SET_BY:
            raise DocsError(f"{source}: [{name}] set-by is {set_by!r}; accepted: {', '.join(SET_BY)}")
        option = entry.get("option")
        if option is not None and not (isinstance(option, str) and option.startswith("--")):
            raise DocsError(f"{source}: [{name}] option must be a --flag of build_prod, got {option!r}")
        docs[name] = BuildArgDoc(name=name, description=description.strip(), set_by=set_by, option=option)
    return docs


# Set by BuildKit itself for every build (the platform being built and the one building); a user cannot
# choose them with --build-arg, so they are no customisation point to document.
AUTOMATIC_PLATFORM_ARGS = frozenset(
    f"{side}{part}" for side in ("TARGET", "BUILD") for part in ("PLATFORM", "OS", "ARCH", "VARIANT")
)


def check_build_arg_docs(
    args: Iterable[DockerfileArg], docs: Mapping[str, BuildArgDoc], *, known_options: Iterable[str]
) -> None:
    """Every ARG documented, nothing documented that is not an ARG, every option a real one."""
    names = [a.name for a in args]
    missing = [n for n in names if n not in docs and n not in AUTOMATIC_PLATFORM_ARGS]
    unknown = [n for n in docs if n not in names]
    options = set(known_options)
    bad_options = [f"{d.name} ({d.option})" for d in docs.values() if d.option and d.option not in options]
    problems = []
    if missing:
        problems.append(f"Dockerfile ARG(s) without an entry in {BUILD_ARG_DOCS}: {', '.join(missing)}")
    if unknown:
        problems.append(f"{BUILD_ARG_DOCS} documents ARG(s) the Dockerfile does not declare: {', '.join(unknown)}")
    if bad_options:
        problems.append(f"{BUILD_ARG_DOCS} names build_prod option(s) that do not exist: {', '.join(bad_options)}")
    if problems:
        raise DocsError("; ".join(problems))


def _default_text(arg: DockerfileArg, global_defaults: Mapping[str, tuple[str, ...]]) -> str:
    values = arg.defaults or global_defaults.get(arg.name, ())
    if not values:
        return "none"
    # a long comma-separated list (the extras) as one code span could not wrap
    return " or ".join(
        ", ".join(_code(v) for v in value.split(",")) if "," in value else _code(value) for value in values
    )


def render_build_args(args: Iterable[DockerfileArg], docs: Mapping[str, BuildArgDoc]) -> str:
    """One definition-list entry per ARG: customisation points first, then what the tooling sets."""
    args = tuple(args)
    global_defaults = {a.name: a.defaults for a in args if GLOBAL_SCOPE in a.scopes}
    sections = []
    for set_by, title in (("user", "Customisation points"), ("tooling", "Set by the build tooling")):
        entries = []
        for arg in (a for a in args if a.name not in AUTOMATIC_PLATFORM_ARGS):
            doc = docs[arg.name]
            if doc.set_by != set_by:
                continue
            facts = [f"Default: {_default_text(arg, global_defaults)}"]
            facts.append(
                "declared in " + ", ".join("`FROM` lines" if s == GLOBAL_SCOPE else f"`{s}`" for s in arg.scopes)
            )
            if doc.option:
                facts.append(f"`build_prod` option `{doc.option}`")
            entries.append(f"`{arg.name}`\n: {' '.join(doc.description.split())}\n\n  {' · '.join(facts)}\n")
        sections.append(f"### {title}\n\n" + "\n".join(entries))
    return "\n".join(sections)


def build_arg_reference(root: Path, *, known_options: Iterable[str]) -> str:
    args = dockerfile_args((root / "Dockerfile").read_text())
    docs = parse_build_arg_docs((root / BUILD_ARG_DOCS).read_text())
    check_build_arg_docs(args, docs, known_options=known_options)
    return render_build_args(args, docs)


def render_build_options(parser: argparse.ArgumentParser, docs: Mapping[str, BuildArgDoc]) -> str:
    """The options of `nox -s build_prod-X.Y -- …`, each with the ARG(s) it sets (from docs/build-args.toml)."""
    sets: dict[str, list[str]] = {}
    for doc in docs.values():
        if doc.option:
            sets.setdefault(doc.option, []).append(f"`{doc.name}`")
    rows = ["| option | sets | notes |", "| --- | --- | --- |"]
    for action in parser._actions:
        if not action.option_strings:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:
            usage = f"`{flag}`"
        elif action.choices:
            usage = f"`{flag} {'|'.join(action.choices)}`".replace("|", "\\|")
        else:
            usage = f"`{flag} {flag.lstrip('-').upper().replace('-', '_')}`"
        if isinstance(action, argparse._AppendAction):
            usage += " (repeatable)"
        rows.append(f"| {usage} | {', '.join(sets.get(flag, []))} | {_cell(action.help or '')} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class NoxSession:
    name: str
    description: str
    tags: tuple[str, ...]
    default: bool  # runs on a bare `nox`


def _nox_json(text: str, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise DocsError(f"`{what}` did not print JSON: {text.strip()[:80]!r}") from None
    if not isinstance(data, list):
        raise DocsError(f"`{what}` printed {type(data).__name__}, expected a list of sessions")
    return data


# nox's JSON listing holds only the selected sessions: without a selection that is the default ones,
# and a keyword expression that is always true selects all of them.
NOX_LIST_ALL = ("nox", "--list", "--json", "-k", "True")
NOX_LIST_DEFAULT = ("nox", "--list", "--json")


def parse_nox_listing(all_json: str, default_json: str) -> tuple[NoxSession, ...]:
    defaults = {s["session"] for s in _nox_json(default_json, " ".join(NOX_LIST_DEFAULT))}
    return tuple(
        NoxSession(
            name=s["session"],
            description=s.get("description") or "",
            tags=tuple(s.get("tags") or ()),
            default=s["session"] in defaults,
        )
        for s in _nox_json(all_json, " ".join(NOX_LIST_ALL))
    )


def list_nox_sessions(runner: CommandRunner, root: Path, *, airflow_version: str) -> tuple[NoxSession, ...]:
    """The sessions of noxfile.py for one Airflow version (its flavours decide the per-flavour sessions)."""
    env = {"AIRFLOW_VERSION": airflow_version}
    outputs = [
        runner.run(list(argv), capture=True, cwd=root, env=env, quiet=True, read_only=True).stdout
        for argv in (NOX_LIST_ALL, NOX_LIST_DEFAULT)
    ]
    return parse_nox_listing(*outputs)


def render_nox_sessions(sessions: Iterable[NoxSession]) -> str:
    rows = ["| session | runs on bare `nox` | tags | what it does |", "| --- | --- | --- | --- |"]
    for s in sessions:
        tags = ", ".join(f"`{t}`" for t in s.tags)
        rows.append(f"| `nox -s {s.name}` | {'yes' if s.default else ''} | {tags} | {_cell(s.description)} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class InvokeTask:
    name: str
    summary: str
    options: tuple[tuple[str, str], ...]  # (flag as typed, help)


def load_task_collection(root: Path) -> Any:
    """tasks.py's `ns` collection, imported from its file (it is no module of the package)."""
    spec = importlib.util.spec_from_file_location("_airflow_image_tasks", root / "tasks.py")
    if spec is None or spec.loader is None:
        raise DocsError(f"{root / 'tasks.py'} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "ns"):
        raise DocsError(f"{root / 'tasks.py'} has no `ns` collection")
    return module.ns


def _usage(names: tuple[str, ...], kind: Any, *, positional: bool) -> str:
    """How an argument is typed on the command line: `--dry-run`, `--version VERSION`, `IMAGE`."""
    longest = max(names, key=len)
    metavar = longest.upper().replace("-", "_")
    if positional:
        return metavar
    flag = f"--{longest}" if len(longest) > 1 else f"-{longest}"
    if kind is bool:
        return flag
    return f"{flag} {metavar}" + (" (repeatable)" if kind is list else "")


def invoke_tasks(collection: Any) -> tuple[InvokeTask, ...]:
    """Name, first docstring line and options of each task of an invoke Collection."""
    tasks = []
    for name in sorted(collection.task_names):
        task = collection[name]
        doc = (task.__doc__ or "").strip().splitlines()
        options = tuple(
            (_usage(tuple(arg.names), arg.kind, positional=bool(arg.positional)), arg.help or "")
            for arg in task.get_arguments()
        )
        tasks.append(InvokeTask(name=name, summary=doc[0] if doc else "", options=options))
    return tuple(tasks)


def render_invoke_tasks(tasks: Iterable[InvokeTask]) -> str:
    rows = ["| task | options | what it does |", "| --- | --- | --- |"]
    for t in tasks:
        options = "<br>".join(f"`{flag}`: {_cell(help_)}" if help_ else f"`{flag}`" for flag, help_ in t.options)
        rows.append(f"| `invoke {t.name}` | {options} | {_cell(t.summary)} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class TagExample:
    situation: str
    inputs: TagInputs


def tag_examples(settings: ProjectSettings, matrix: VersionMatrix) -> tuple[TagExample, ...]:
    """Situations that show every rule of the naming convention, taken from the real matrix."""
    released = released_versions(matrix.releases, yanked=[v for v, r in matrix.releases.items() if r.yanked])
    default = matrix.default_release()
    other = next((p for p in default.pythons if p != default.default_python), None)

    def inputs(version: str, python: str, **kw: Any) -> TagInputs:
        return TagInputs(version, python, settings.default_python, released_versions=released, **kw)

    examples = [TagExample("newest stable release, default flavour", inputs(default.version, default.default_python))]
    if other:
        examples.append(TagExample("newest stable release, another flavour", inputs(default.version, other)))
    examples.append(TagExample("slim variant", inputs(default.version, default.default_python, variant="slim")))
    stable = [r for r in matrix.sorted_releases() if not r.is_prerelease and not r.yanked]
    line = default.parsed.release[:2]
    older = [r for r in reversed(stable) if r.parsed < default.parsed]
    older_patch = next((r for r in older if r.parsed.release[:2] == line), None)
    older_line = next((r for r in older if r.parsed.release[:2] < line), None)
    for situation, found in (("older patch of the newest line", older_patch), ("newest of an older line", older_line)):
        if found:
            examples.append(TagExample(situation, inputs(found.version, found.default_python)))
    prerelease = next((r for r in reversed(matrix.sorted_releases()) if r.is_prerelease), None)
    if prerelease:
        examples.append(TagExample("pre-release", inputs(prerelease.version, prerelease.default_python)))
    examples.append(
        TagExample("build of the main branch", inputs(default.version, default.default_python, main_build=True))
    )
    return tuple(examples)


def render_tag_examples(examples: Iterable[TagExample]) -> str:
    rows = ["| situation | Airflow | Python | variant | tags |", "| --- | --- | --- | --- | --- |"]
    for e in examples:
        tags = " ".join(f"`{t}`" for t in image_tags(e.inputs))
        version = "(main)" if e.inputs.main_build else e.inputs.airflow_version
        rows.append(f"| {e.situation} | {version} | {e.inputs.python} | {e.inputs.variant} | {tags} |")
    return "\n".join(rows) + "\n"


def fill_markers(text: str, generators: Mapping[str, Callable[[], str]]) -> str:
    """Replaces every `<!-- generated: NAME -->` line with the output of generators[NAME]."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in generators:
            raise DocsError(f"unknown generated section {name!r}; known: {', '.join(sorted(generators))}")
        return generators[name]().rstrip("\n")

    return MARKER.sub(replace, text)


def option_strings(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    return tuple(s for action in parser._actions for s in action.option_strings)


def generators(
    root: Path,
    settings: ProjectSettings,
    matrix: VersionMatrix,
    runner: CommandRunner,
    *,
    build_parser: argparse.ArgumentParser,
) -> dict[str, Callable[[], str]]:
    """The generated sections by marker name; each runs once, when a page first asks for it."""
    makers: dict[str, Callable[[], str]] = {
        "build-args": lambda: build_arg_reference(root, known_options=option_strings(build_parser)),
        "build-options": lambda: render_build_options(
            build_parser, parse_build_arg_docs((root / BUILD_ARG_DOCS).read_text())
        ),
        "nox-sessions": lambda: render_nox_sessions(
            list_nox_sessions(runner, root, airflow_version=matrix.default_release().version)
        ),
        "invoke-tasks": lambda: render_invoke_tasks(invoke_tasks(load_task_collection(root))),
        "image-tags": lambda: render_tag_examples(tag_examples(settings, matrix)),
    }
    return {name: functools.cache(maker) for name, maker in makers.items()}


def build_docs(runner: CommandRunner, root: Path) -> Path:
    """Builds the site through its nox session (which installs the docs toolchain); returns its index."""
    runner.run(["nox", "-s", "docs"], cwd=root)
    return root / "site" / "index.html"
