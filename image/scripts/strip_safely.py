"""Strips debug symbols from shared objects, keeping every file whose stripped form would not load.

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


def strip_one(path: Path, scratch: Path) -> str:
    if path.is_symlink() or not load_segments_valid(path.read_bytes()[:65536]):
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


def main(directory: str) -> int:
    files = [p for p in Path(directory).rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        outcomes = list(pool.map(lambda p: strip_one(p, Path(tmp)), files))
    stripped = [o for o in outcomes if o.startswith("stripped")]
    saved_mb = sum(int(o.split()[1]) for o in stripped) >> 20
    kept = outcomes.count("kept")
    print(
        f"stripped {len(stripped)} of {len(files)} shared objects ({saved_mb} MB); "
        f"{kept} kept as they were because stripping would break them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
