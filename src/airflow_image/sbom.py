"""A CycloneDX SBOM of an image, generated from the image itself, and what changed between two images.

Python side: the maintained generator (`cyclonedx-py environment`) runs in a throw-away container
made from the image, on the image's own interpreter, so it sees exactly the distributions the image
ships. The generator's code is the host's installed copy, mounted read-only (it is pure Python): no
package index is needed at SBOM time and the image is never changed. The interpreter it inspects is
started without the mount on its path, so the generator's own packages are not reported.
Debian side: the image's dpkg database, written as components with `pkg:deb/debian/…` PURLs by
cyclonedx-python-lib. Both merged into one document and validated against the CycloneDX schema.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from .engine import inspect_image
from .errors import SbomError
from .overrides import LABEL as OVERRIDES_LABEL
from .overrides import SBOM_PROPERTY as OVERRIDE_PROPERTY
from .overrides import parse_label
from .runner import CommandRunner

VENV_PYTHON = "/opt/airflow-venv/bin/python"
_TOOL_MOUNT = "/opt/sbom-tool"
# Runs the generator from the mounted copy; `-I` keeps PYTHONPATH and the user site out of it.
_RUN_GENERATOR = (
    f"import sys, runpy; sys.path.insert(0, {_TOOL_MOUNT!r}); "
    "sys.argv[0] = 'cyclonedx-py'; runpy.run_module('cyclonedx_py', run_name='__main__')"
)
_LIST_DISTRIBUTIONS = (
    "import json, importlib.metadata as m; "
    "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions() if d.metadata['Name']}))"
)


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    source: str = ""


def parse_dpkg_status(text: str) -> list[DebPackage]:
    """Installed packages from /var/lib/dpkg/status (stanzas; `Status: install ok installed` only)."""
    packages = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            source = fields.get("Source", "").split(" ")[0]
            packages.append(DebPackage(fields["Package"], fields.get("Version", ""), fields.get("Architecture", ""),
                                       source))
    return sorted(packages, key=lambda p: p.name)


def parse_os_release(text: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {k: v.strip().strip('"') for k, _, v in pairs}


def deb_purl(package: DebPackage, *, distro: str) -> str:
    from packageurl import PackageURL

    qualifiers = {"arch": package.architecture, **({"distro": distro} if distro else {})}
    if package.source and package.source != package.name:
        qualifiers["upstream"] = package.source
    return PackageURL(type="deb", namespace="debian", name=package.name, version=package.version,
                      qualifiers=qualifiers).to_string()


def _run_in(image: str, entrypoint: str, *, platform: str = "") -> list[str]:
    """`docker run` of the image, offline; `platform` picks one image of a multi-platform tag."""
    return ["docker", "run", "--rm", "--network", "none", *(["--platform", platform] if platform else []),
            "--entrypoint", entrypoint, image]  # fmt: skip


def _read_file(runner: CommandRunner, image: str, path: str, *, platform: str = "") -> str:
    result = runner.run([*_run_in(image, "cat", platform=platform), path],
                        capture=True, check=False, quiet=True, read_only=True)
    if result.returncode != 0:
        raise SbomError(f"cannot read {path} from image {image} (exit code {result.returncode})")
    return result.stdout


def debian_packages(runner: CommandRunner, image: str, *, platform: str = "") -> tuple[list[DebPackage], str]:
    """The image's installed Debian packages and its `debian-<VERSION_ID>` distro qualifier."""
    os_release = parse_os_release(_read_file(runner, image, "/etc/os-release", platform=platform))
    distro = f"{os_release.get('ID', 'debian')}-{os_release.get('VERSION_ID', '')}".rstrip("-")
    return parse_dpkg_status(_read_file(runner, image, "/var/lib/dpkg/status", platform=platform)), distro


def python_distributions(runner: CommandRunner, image: str, *, python: str = VENV_PYTHON) -> dict[str, str]:
    """name → version of every distribution the image's environment has."""
    result = runner.run([*_run_in(image, python), "-I", "-c", _LIST_DISTRIBUTIONS],
                        capture=True, check=False, quiet=True, read_only=True)
    if result.returncode != 0:
        raise SbomError(f"cannot list the Python distributions of image {image} (exit code {result.returncode})")
    return json.loads(result.stdout)


def generator_path() -> Path:
    """The site-packages folder the host's cyclonedx-bom is installed in (mounted into the container)."""
    spec = importlib.util.find_spec("cyclonedx_py")
    if spec is None or not spec.origin:
        raise SbomError("cyclonedx-bom is not installed; install the project with its `sbom` extra")
    return Path(spec.origin).parent.parent


def python_sbom_command(image: str, tool: Path, *, python: str = VENV_PYTHON, platform: str = "") -> list[str]:
    run = _run_in(image, python, platform=platform)
    return [
        *run[:-1], "--volume", f"{tool}:{_TOOL_MOUNT}:ro", image,
        "-I", "-B", "-c", _RUN_GENERATOR,
        # validated on the host (the schema validator has compiled dependencies the image's Python may not load)
        "environment", "--no-validate", "--output-format", "JSON", "--spec-version", "1.6", "--output-file", "-",
        python,
    ]


def python_sbom(runner: CommandRunner, image: str, *, tool: Path | None = None, platform: str = "") -> dict:
    result = runner.run(python_sbom_command(image, tool or generator_path(), platform=platform), capture=True,
                        check=False, quiet=True, read_only=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise SbomError(f"cyclonedx-py failed in a container of {image}: {last[-200:]}")
    return json.loads(result.stdout)


def debian_components(packages: list[DebPackage], *, distro: str) -> list[dict]:
    """The Debian packages as CycloneDX components, serialised by cyclonedx-python-lib."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    for package in packages:
        purl = PackageURL.from_string(deb_purl(package, distro=distro))
        bom.components.add(Component(type=ComponentType.LIBRARY, name=package.name, version=package.version,
                                     purl=purl, bom_ref=purl.to_string()))
    return json.loads(JsonV1Dot6(bom).output_as_string()).get("components", [])


def merge_sbom(python_bom: dict, deb_components: list[dict], *, image: str, digest: str,
               labels: Mapping[str, str]) -> dict:
    """One document: the generator's Python components and dependencies, the Debian components, and
    the image itself as the described component."""
    merged = dict(python_bom)
    python_components = mark_overrides(python_bom.get("components", []), labels.get(OVERRIDES_LABEL, ""))
    seen = {c.get("bom-ref") for c in python_components}
    merged["components"] = [*python_components, *(c for c in deb_components if c.get("bom-ref") not in seen)]
    name, _, version = image.rpartition("@")[0].rpartition(":") if "@" in image else image.rpartition(":")
    metadata = dict(python_bom.get("metadata", {}))
    metadata["component"] = {
        "type": "container",
        "bom-ref": "image",
        "name": name or image,
        "version": digest or version,
        "properties": [{"name": k, "value": v} for k, v in sorted(labels.items())],
    }
    merged["metadata"] = metadata
    # The generator's root is our container now; its dependency entries stay, keyed by their own refs.
    merged["dependencies"] = [d for d in python_bom.get("dependencies", []) if d.get("ref") != "root-component"]
    merged["dependencies"].append({"ref": "image", "dependsOn": sorted(c["bom-ref"] for c in merged["components"]
                                                                        if c.get("bom-ref"))})
    return merged


def mark_overrides(components: list[dict], label: str) -> list[dict]:
    """The Python components a security override installed get a property naming its advisory; the
    label is the image's record of the overrides in force (docs/security-overrides.md)."""
    advisories = {(o.package, o.version): o.advisory for o in parse_label(label)}
    marked = []
    for component in components:
        advisory = advisories.get((canonicalize_name(component.get("name", "")), component.get("version")))
        if advisory and str(component.get("purl", "")).startswith("pkg:pypi/"):
            component = {**component, "properties": [*component.get("properties", []),
                                                     {"name": OVERRIDE_PROPERTY, "value": advisory}]}
        marked.append(component)
    return marked


def validate_sbom(document: dict) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))
    if error is not None:
        raise SbomError(f"the SBOM does not validate against CycloneDX 1.6: {str(error)[:200]}")


def image_sbom(
    runner: CommandRunner, image: str, *, digest: str, labels: Mapping[str, str], platform: str = ""
) -> dict:
    """Generates, merges and validates the SBOM of a local image (of one platform of it)."""
    packages, distro = debian_packages(runner, image, platform=platform)
    document = merge_sbom(python_sbom(runner, image, platform=platform), debian_components(packages, distro=distro),
                          image=image, digest=digest, labels=labels)
    validate_sbom(document)
    return document


def local_image_sbom(runner: CommandRunner, ref: str, *, platform: str = "") -> dict:
    """The SBOM of an image just built on this host, generated before anything is pushed; it names the
    image by its local id until the registry gives it a digest (for_digest)."""
    local = inspect_image(runner, ref)
    if local is None:
        raise SbomError(f"image {ref} is not on this host, so no SBOM can be generated from it")
    return image_sbom(runner, ref, digest=local.id, labels=local.labels, platform=platform)


def for_digest(document: dict, digest: str) -> dict:
    """The same SBOM, describing the image by the digest a registry gave it."""
    component = {**document["metadata"]["component"], "version": digest}
    return {**document, "metadata": {**document["metadata"], "component": component}}


def write_sbom(document: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


# -- what changed between two images ------------------------------------------------------------------


@dataclass(frozen=True)
class PackageChanges:
    kind: str  # "debian" | "python"
    added: tuple[tuple[str, str], ...] = ()  # (name, version)
    removed: tuple[tuple[str, str], ...] = ()
    upgraded: tuple[tuple[str, str, str], ...] = ()  # (name, old, new); "upgraded" also covers downgrades


def diff_packages(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> PackageChanges:
    return PackageChanges(
        kind=kind,
        added=tuple((n, new[n]) for n in sorted(new.keys() - old.keys())),
        removed=tuple((n, old[n]) for n in sorted(old.keys() - new.keys())),
        upgraded=tuple((n, old[n], new[n]) for n in sorted(old.keys() & new.keys()) if old[n] != new[n]),
    )


@dataclass(frozen=True)
class ImageInventory:
    debian: dict
    python: dict
    size: int  # bytes, as the engine reports the image


def inventory(runner: CommandRunner, image: str, *, size: int) -> ImageInventory:
    packages, _ = debian_packages(runner, image)
    return ImageInventory({p.name: p.version for p in packages}, python_distributions(runner, image), size)


def format_changes(old_ref: str, new_ref: str, old: ImageInventory, new: ImageInventory) -> list[str]:
    lines = [f"changes from {old_ref} to {new_ref}:"]
    for changes in (diff_packages("debian", old.debian, new.debian), diff_packages("python", old.python, new.python)):
        if not (changes.added or changes.removed or changes.upgraded):
            lines.append(f"  {changes.kind}: no package changed")
        lines += [f"  {changes.kind}: + {n} {v}" for n, v in changes.added]
        lines += [f"  {changes.kind}: - {n} {v}" for n, v in changes.removed]
        lines += [f"  {changes.kind}: ~ {n} {a} -> {b}" for n, a, b in changes.upgraded]
    delta = new.size - old.size
    lines.append(f"  size: {old.size / 1e6:.1f} MB -> {new.size / 1e6:.1f} MB ({'+' if delta >= 0 else ''}"
                 f"{delta / 1e6:.1f} MB)")
    return lines
