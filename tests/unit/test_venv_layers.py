"""image/scripts/venv_layers.py: the split is balanced, covers the environment once, and the parts
copied one after the other rebuild it exactly."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("venv_layers", ROOT / "image" / "scripts" / "venv_layers.py")
venv_layers = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(venv_layers)


@pytest.mark.parametrize(
    ("sizes", "parts", "expected"),
    [
        ({"a": 10, "b": 6, "c": 5}, 2, {"a": 0, "b": 1, "c": 1}),
        ({"a": 10, "b": 1, "c": 1, "d": 1}, 2, {"a": 0, "b": 1, "c": 1, "d": 1}),
        ({"a": 3, "b": 3, "c": 3}, 3, {"a": 0, "b": 1, "c": 2}),
        ({"a": 5}, 2, {"a": 0}),
        ({"x": 2, "y": 2}, 1, {"x": 0, "y": 0}),
    ],
)
def test_balance_puts_each_entry_on_the_lightest_part(sizes, parts, expected):
    assert venv_layers.balance(sizes, parts) == expected


def _fake_venv(root: Path) -> Path:
    venv = root / "venv"
    site = venv / "lib" / "python3.12" / "site-packages"
    for package, size in (("big", 9000), ("mid", 5000), ("small", 4000)):
        (site / package / "sub").mkdir(parents=True)
        (site / package / "sub" / "data.bin").write_bytes(b"x" * size)
        (site / package / "__init__.py").write_text(f"name = {package!r}\n")
    (site / "single.py").write_text("x = 1\n")
    (site / "small" / "link.py").symlink_to("__init__.py")
    (venv / "bin").mkdir()
    (venv / "bin" / "tool").write_text("#!/bin/sh\n")
    (venv / "bin" / "tool").chmod(0o755)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "lib64").symlink_to("lib")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "mid").chmod(0o750)
    return venv


def _tree(root: Path) -> dict[str, tuple]:
    found = {}
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(current, name)
            info = path.lstat()
            content = os.readlink(path) if path.is_symlink() else (path.read_bytes() if path.is_file() else None)
            found[str(path.relative_to(root))] = (info.st_mode, content)
    return found


def test_the_plan_covers_every_entry_once_with_the_rest_in_part_zero(tmp_path):
    venv = _fake_venv(tmp_path)
    plan = venv_layers.plan(venv, 2)
    paths = [path for _, path in plan]
    assert sorted(paths) == sorted(set(paths))
    site = "lib/python3.12/site-packages"
    # big (9 kB) fills part 0; mid and small (5 and 4 kB) go to part 1; single.py to the lighter part 0
    assert {path for part, path in plan if part == 0} == {
        "bin",
        "lib64",
        "pyvenv.cfg",
        f"{site}/big",
        f"{site}/single.py",
    }
    assert {path for part, path in plan if part == 1} == {f"{site}/mid", f"{site}/small"}


def test_copying_every_part_in_turn_rebuilds_the_environment(tmp_path):
    venv = _fake_venv(tmp_path)
    lines = [f"{part}\t{path}" for part, path in venv_layers.plan(venv, 2)]
    target = tmp_path / "copy"
    target.mkdir()
    for part in (0, 1):
        venv_layers.copy(venv, target, part, lines, str(os.getuid()))
    assert _tree(target) == _tree(venv)


def test_each_part_adds_only_its_own_entries(tmp_path):
    venv = _fake_venv(tmp_path)
    lines = [f"{part}\t{path}" for part, path in venv_layers.plan(venv, 2)]
    target = tmp_path / "copy"
    target.mkdir()
    site = target / "lib" / "python3.12" / "site-packages"
    venv_layers.copy(venv, target, 0, lines, str(os.getuid()))
    assert sorted(p.name for p in target.iterdir()) == ["bin", "lib", "lib64", "pyvenv.cfg"]
    assert sorted(p.name for p in site.iterdir()) == ["big", "single.py"]
    venv_layers.copy(venv, target, 1, lines, str(os.getuid()))
    assert sorted(p.name for p in site.iterdir()) == ["big", "mid", "single.py", "small"]
