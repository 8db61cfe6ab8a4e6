"""Splits the virtual environment into layers of similar size, and copies one of them.

Under the containerd image store BuildKit compresses every layer of the image on export, one thread
per layer: a single 1.9 GB layer keeps one core busy while the others wait. Several layers of
similar size keep them all busy.

    python venv_layers.py plan VENV PARTS >PLAN          # in the build stage, after the install
    python venv_layers.py copy SOURCE VENV PART PLAN UID  # in the final stage, once per part

The plan has one line per entry, "PART<TAB>PATH" with PATH relative to the environment: each entry
of site-packages, and everything outside it (interpreter links, scripts, pyvenv.cfg) in part 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def entry_size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(os.lstat(os.path.join(root, name)).st_size for root, _, files in os.walk(path) for name in files)


def balance(sizes: dict[str, int], parts: int) -> dict[str, int]:
    """Largest first, each to the lightest part so far."""
    loads = [0] * parts
    placed: dict[str, int] = {}
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        part = loads.index(min(loads))
        placed[name] = part
        loads[part] += sizes[name]
    return placed


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if len(found) != 1:
        sys.exit(f"ERROR: expected one site-packages under {venv}, found {len(found)}")
    return found[0].relative_to(venv)


def plan(venv: Path, parts: int) -> list[tuple[int, str]]:
    site = site_packages(venv)
    sizes = {str(site / entry.name): entry_size(entry) for entry in (venv / site).iterdir()}
    lines = sorted((part, name) for name, part in balance(sizes, parts).items())
    level = Path()
    for step in site.parts:  # siblings of the path down to site-packages
        for entry in (venv / level).iterdir():
            if entry.name != step or entry.is_symlink():
                lines.append((0, str(level / entry.name)))
        level = level / step
    return sorted(lines)


def copy(source: Path, venv: Path, part: int, plan_lines: list[str], uid: str) -> None:
    site = site_packages(source)
    if part == 0:  # the directories down to site-packages, owned like everything else
        for directory in (Path(), *reversed(site.parents[:-1]), site):
            (venv / directory).mkdir(exist_ok=True)
            os.chmod(venv / directory, os.stat(source / directory).st_mode & 0o7777)
            os.chown(venv / directory, int(uid), 0)
    mine = [Path(path) for number, path in (line.split("\t", 1) for line in plan_lines) if int(number) == part]
    by_parent: dict[Path, list[str]] = {}
    for path in mine:
        by_parent.setdefault(path.parent, []).append(str(source / path))
    for parent, paths in by_parent.items():
        subprocess.run(["cp", "-a", "-t", str(venv / parent), *paths], check=True)
        subprocess.run(
            ["chown", "-R", "--no-dereference", f"{uid}:0", *(str(venv / parent / Path(p).name) for p in paths)],
            check=True,
        )


def main(argv: list[str]) -> None:
    if argv[:1] == ["plan"] and len(argv) == 3:
        for part, path in plan(Path(argv[1]), int(argv[2])):
            print(f"{part}\t{path}")
    elif argv[:1] == ["copy"] and len(argv) == 6:
        lines = Path(argv[4]).read_text().splitlines()
        copy(Path(argv[1]), Path(argv[2]), int(argv[3]), lines, argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
