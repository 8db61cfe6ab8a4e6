"""Strips debug symbols from shared objects and executables, keeping every file whose stripped form
would not load.

binutils' strip can break libraries that auditwheel's patchelf rewrote (the loader then refuses
them: "ELF load command address/offset not page-aligned"). Each file is stripped into a copy; the
copy replaces the original only if all its PT_LOAD segments are still congruent modulo the page
size and their alignment, which is what the loader checks.

    python strip_safely.py DIRECTORY
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PAGE = 4096
PT_LOAD = 1


def load_segments_valid(data: bytes) -> bool:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # 64-bit little-endian only
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, _filesz, _memsz, p_align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize
        )
        if p_type != PT_LOAD:
            continue
        if p_offset % PAGE != p_vaddr % PAGE or (p_align and p_offset % p_align != p_vaddr % p_align):
            return False
    return True


SHT_NOBITS = 8


def has_appended_data(data: bytes) -> bool:
    """True when bytes follow everything the ELF headers describe: a payload appended to an executable
    (a self-extracting bundle's archive), which strip would silently drop."""
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    end = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    for i in range(phnum):
        _type, _flags, offset, _vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        end = max(end, offset + filesz)
    for i in range(shnum):
        _name, sh_type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        if sh_type != SHT_NOBITS:
            end = max(end, offset + size)
    return len(data) > end


def strip_one(path: Path, scratch: Path) -> str:
    data = path.read_bytes()
    if path.is_symlink() or not load_segments_valid(data) or has_appended_data(data):
        return "skipped"
    copy = scratch / f"{os.getpid()}-{abs(hash(path))}"
    shutil.copy2(path, copy)
    try:
        result = subprocess.run(["strip", "--strip-unneeded", str(copy)], capture_output=True, check=False)
        if result.returncode != 0 or not load_segments_valid(copy.read_bytes()):
            return "kept"
        saved = path.stat().st_size - copy.stat().st_size
        os.replace(copy, path)
        return f"stripped {saved}"
    finally:
        copy.unlink(missing_ok=True)


def is_elf_candidate(path: Path) -> bool:
    """Shared objects by name; executables (wheels ship servers such as Ray's raylet, with symbols) by
    their mode and magic number."""
    if path.is_symlink() or not path.is_file():
        return False
    if path.suffix == ".so" or ".so." in path.name:
        return True
    if not path.stat().st_mode & 0o111:
        return False
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def main(directory: str) -> int:
    files = [p for p in Path(directory).rglob("*") if is_elf_candidate(p)]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        outcomes = list(pool.map(lambda p: strip_one(p, Path(tmp)), files))
    stripped = [o for o in outcomes if o.startswith("stripped")]
    saved_mb = sum(int(o.split()[1]) for o in stripped) >> 20
    kept = outcomes.count("kept")
    print(
        f"stripped {len(stripped)} of {len(files)} shared objects and executables ({saved_mb} MB); "
        f"{kept} kept as they were because stripping would break them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
