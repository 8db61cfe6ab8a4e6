"""Reads an image's layers from `docker save`, to prove what is (not) inside them."""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path


def files_containing(image: str, needle: bytes, *, max_size: int = 8 * 1024 * 1024) -> list[str]:
    """Paths (layer:file) of every regular file up to max_size whose content contains `needle`."""
    hits = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "image.tar"
        subprocess.run(["docker", "save", "--output", str(saved), image], check=True)
        with tarfile.open(saved) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            config = outer.extractfile(manifest[0]["Config"]).read()
            if needle in config:
                hits.append("image config (history, labels, env)")
            for layer_name in manifest[0]["Layers"]:
                with tarfile.open(fileobj=outer.extractfile(layer_name)) as layer:
                    for member in layer:
                        if member.isfile() and member.size <= max_size and needle in layer.extractfile(member).read():
                            hits.append(f"{layer_name}:{member.name}")
    return hits
