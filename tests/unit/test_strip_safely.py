"""image/scripts/strip_safely.py: which files it strips, and which it must leave as they are."""

from __future__ import annotations

import importlib.util
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("strip_safely", ROOT / "image" / "scripts" / "strip_safely.py")
strip_safely = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(strip_safely)

# any 64-bit little-endian ELF executable of the host will do
HOST_ELF = Path(shutil.which("true") or "/bin/true").resolve()


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    copy = tmp_path / "server"
    shutil.copy2(HOST_ELF, copy)
    return copy


def test_an_executable_as_built_has_no_appended_data(elf):
    assert strip_safely.load_segments_valid(elf.read_bytes())
    assert not strip_safely.has_appended_data(elf.read_bytes())


def test_a_payload_after_the_elf_sections_is_appended_data(elf):
    elf.write_bytes(elf.read_bytes() + b"PK\x03\x04 a bundled archive")
    assert strip_safely.has_appended_data(elf.read_bytes())


def test_an_executable_with_appended_data_is_left_byte_for_byte(elf, tmp_path):
    elf.write_bytes(elf.read_bytes() + b"payload")
    before = elf.read_bytes()
    assert strip_safely.strip_one(elf, tmp_path) == "skipped"
    assert elf.read_bytes() == before


def _write(path: Path, content: bytes, mode: int) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("name", "content", "mode", "candidate"),
    [
        ("raylet", "elf", 0o755, True),  # an executable ELF
        ("data.bin", "elf", 0o644, False),  # ELF bytes without the execute bit: not a program
        ("_ext.cpython-311-x86_64-linux-gnu.so", "elf", 0o644, True),  # shared objects by name
        ("libfoo.so.1.2", "elf", 0o644, True),
        ("launcher", b"#!/bin/sh\necho hi\n", 0o755, False),  # an executable script
    ],
)
def test_which_files_are_stripping_candidates(tmp_path, name, content, mode, candidate):
    data = HOST_ELF.read_bytes() if content == "elf" else content
    path = _write(tmp_path / name, data, mode)
    assert strip_safely.is_elf_candidate(path) is candidate


def test_a_symlink_is_never_a_candidate(tmp_path, elf):
    link = tmp_path / "link"
    link.symlink_to(elf)
    assert not strip_safely.is_elf_candidate(link)


def test_a_stripped_executable_still_runs(elf, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = strip_safely.strip_one(elf, scratch)
    assert outcome.startswith("stripped") or outcome == "kept"
    assert elf.stat().st_mode & stat.S_IXUSR
    assert subprocess.run([str(elf)], check=False).returncode == 0
