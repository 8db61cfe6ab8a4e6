"""Security overrides: reviewed pins above the committed locks, each naming the advisory it fixes.

`security-overrides.toml` at the repository root holds one `[[override]]` table per package
(docs/security-overrides.md). A build checks the ones in scope against the lock it installs from
and hands them to the Dockerfile as one build argument, AIRFLOW_SECURITY_OVERRIDES, whose value
(`name==version (ADVISORY), …`) is also the image's label: the Dockerfile gives them to
`uv pip install --overrides` and keeps them in the image beside its constraints. The SBOM reads the
label back and marks the overridden components.

An override in scope must raise a pin of the lock: one at or below the pin would be a no-op or a
downgrade, so the build refuses it, and `invoke overrides-check` lists those across every lock.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import ConfigError
from .locks import committed_locks, lock_pins
from .settings import ProjectSettings

OVERRIDES_FILE = "security-overrides.toml"
LABEL = "org.apache.airflow.security-overrides"
IMAGE_PATH = "/usr/local/share/airflow/security-overrides.txt"
SBOM_PROPERTY = "airflow-image:override"

_REQUIRED = ("package", "version", "advisory", "reason")
_KEYS = (*_REQUIRED, "airflow", "python")
_PACKAGE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
# GitHub's advisory ids use this 20-letter alphabet; a CVE's sequence number has 4 digits or more.
_ADVISORY = re.compile(r"CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}")
_LABEL_ENTRY = re.compile(r"(?P<package>[^=\s]+)==(?P<version>\S+) \((?P<advisory>[^()\s]+)\)")


class InvalidOverride(ConfigError):
    """The security overrides file, or one of its entries, is malformed or does not fit a lock."""


@dataclass(frozen=True)
class Override:
    package: str  # canonical distribution name
    version: str
    advisory: str
    _: KW_ONLY
    reason: str = ""  # the image's label does not carry it
    airflow: str = ""  # PEP 440 specifiers of the Airflow versions it applies to; "" for all
    python: str = ""  # the same for Python flavours

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def __str__(self) -> str:
        return f"{self.requirement} ({self.advisory})"

    def applies_to(self, airflow_version: str, python: str) -> bool:
        in_airflow_scope = SpecifierSet(self.airflow).contains(airflow_version, prereleases=True)
        return in_airflow_scope and SpecifierSet(self.python).contains(python, prereleases=True)


@dataclass(frozen=True)
class LockPins:
    """A lock as the overrides are checked against it."""

    name: str  # as messages show it: constraints/3.3.2/constraints-3.11.txt
    pins: Mapping[str, str]  # canonical name → pinned version

    @classmethod
    def from_text(cls, name: str, text: str) -> LockPins:
        return cls(name=name, pins=lock_pins(text))


# -- the file ----------------------------------------------------------------------------------------


def parse_overrides(text: str, *, source: str = OVERRIDES_FILE) -> tuple[Override, ...]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidOverride(f"{source} is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"override"})
    if unknown:
        raise InvalidOverride(f"{source}: unknown top-level key(s) {', '.join(unknown)}; accepted: [[override]] tables")
    entries = document.get("override", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidOverride(f"{source}: `override` must be an array of tables ([[override]])")
    overrides: list[Override] = []
    for number, entry in enumerate(entries, start=1):
        override = _parse_entry(entry, where=f"{source}: override #{number}")
        earlier = next((i for i, o in enumerate(overrides, start=1) if o.package == override.package), None)
        if earlier is not None:
            raise InvalidOverride(
                f"{source}: override #{number} repeats package {override.package!r} (override #{earlier}); "
                "accepted: one override per package"
            )
        overrides.append(override)
    return tuple(overrides)


def _parse_entry(entry: Mapping[str, object], *, where: str) -> Override:
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise InvalidOverride(f"{where}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(_KEYS)}")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise InvalidOverride(
            f"{where}: no {', '.join(missing)}; every override needs package, version, advisory (CVE-… or "
            "GHSA-…) and reason"
        )
    values = {key: entry[key] for key in _KEYS if key in entry}
    not_text = [key for key, value in values.items() if not isinstance(value, str)]
    if not_text:
        raise InvalidOverride(f"{where}: {', '.join(not_text)} must be a quoted string (version = \"2.5.0\")")
    fields: dict[str, str] = {key: str(value).strip() for key, value in values.items()}
    package = fields["package"]
    where = f"{where} ({package})" if package else where
    if not _PACKAGE.fullmatch(package):
        raise InvalidOverride(
            f"{where}: package {package!r} is not a distribution name; accepted: letters, digits and - . _ "
            "(no extras, no version)"
        )
    if canonicalize_name(package) == "apache-airflow":
        raise InvalidOverride(f"{where}: apache-airflow is the image's own version (AIRFLOW_VERSION), not an override")
    version = fields["version"]
    try:
        Version(version)
    except InvalidVersion:
        raise InvalidOverride(
            f"{where}: version {version!r} is not an exact version; accepted: a PEP 440 version such as 2.5.0 "
            "(no ==, >= or ranges)"
        ) from None
    if not _ADVISORY.fullmatch(fields["advisory"]):
        raise InvalidOverride(
            f"{where}: advisory {fields['advisory']!r} is not an advisory id; accepted: CVE-YYYY-NNNN or "
            "GHSA-xxxx-xxxx-xxxx"
        )
    if not fields["reason"] or "\n" in fields["reason"]:
        raise InvalidOverride(f"{where}: reason must be one non-empty line saying what the override fixes")
    for key in ("airflow", "python"):
        try:
            SpecifierSet(fields.get(key, ""))
        except InvalidSpecifier:
            raise InvalidOverride(
                f"{where}: {key} {fields[key]!r} is not a version specifier; accepted: e.g. '>=3.11' or "
                "'>=3.3,<3.4' (leave it out for all)"
            ) from None
    return Override(
        package=canonicalize_name(package),
        version=str(Version(version)),  # as installers and the SBOM write it: 2.05 is 2.5
        advisory=fields["advisory"],
        reason=fields["reason"],
        airflow=fields.get("airflow", ""),
        python=fields.get("python", ""),
    )


def read_overrides(path: Path) -> tuple[Override, ...]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidOverride(f"cannot read security overrides {path}: {exc.strerror or exc}") from None
    return parse_overrides(text, source=path.name)


# -- a build ------------------------------------------------------------------------------------------


def overrides_in_force(
    overrides: Iterable[Override], *, airflow_version: str, python: str, locks: Sequence[LockPins]
) -> tuple[Override, ...]:
    """The overrides a build of this version and flavour applies; each must raise a pin of every lock
    the build installs from (none is known for a build without constraints or from a URL)."""
    scoped = tuple(o for o in overrides if o.applies_to(airflow_version, python))
    for lock in locks:
        for override in scoped:
            pinned = lock.pins.get(override.package)
            if pinned is None:
                raise InvalidOverride(
                    f"override {override}: {lock.name} pins no {override.package!r}; accepted: a package the "
                    "lock pins (check the name, or narrow the override's python/airflow scope)"
                )
            if Version(override.version) <= Version(pinned):
                raise InvalidOverride(
                    f"override {override}: version {override.version} is not above the lock's {pinned} "
                    f"({lock.name}); accepted: a version above it. Drop the override (invoke overrides-check "
                    "lists these) or narrow its python/airflow scope"
                )
    return scoped


def build_arg_value(overrides: Iterable[Override]) -> str:
    """AIRFLOW_SECURITY_OVERRIDES, and the label: `name==version (ADVISORY), …`."""
    return ", ".join(str(o) for o in overrides)


def parse_label(value: str) -> tuple[Override, ...]:
    """The overrides an image records in its label (no reasons, no scopes)."""
    overrides = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        match = _LABEL_ENTRY.fullmatch(item)
        if match is None:
            raise InvalidOverride(f"{LABEL} entry {item!r} is not NAME==VERSION (ADVISORY)")
        overrides.append(Override(canonicalize_name(match["package"]), match["version"], match["advisory"]))
    return tuple(overrides)


# -- invoke overrides-check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideStanding:
    """Where one override stands against the committed locks in its scope."""

    override: Override
    _: KW_ONLY
    raises: tuple[str, ...] = ()  # locks whose pin it raises
    satisfied: tuple[tuple[str, str], ...] = ()  # (lock, pinned version) at or above it
    absent: tuple[str, ...] = ()  # locks in scope that pin no such package

    @property
    def verdict(self) -> str:
        if not (self.raises or self.satisfied or self.absent):
            return "skip"  # no lock checked is in its scope
        if not self.raises:
            return "drop"  # no lock in its scope needs it
        if self.satisfied or self.absent:
            return "narrow"  # needed somewhere, but a build elsewhere in its scope would refuse it
        return "keep"


def check_overrides(
    overrides: Iterable[Override], locks: Sequence[tuple[str, str, LockPins]]
) -> tuple[OverrideStanding, ...]:
    """Each override against every lock (Airflow version, Python flavour, pins) in its scope."""
    standings = []
    for override in overrides:
        raises, satisfied, absent = [], [], []
        for airflow_version, python, lock in locks:
            if not override.applies_to(airflow_version, python):
                continue
            pinned = lock.pins.get(override.package)
            if pinned is None:
                absent.append(lock.name)
            elif Version(override.version) <= Version(pinned):
                satisfied.append((lock.name, pinned))
            else:
                raises.append(lock.name)
        standings.append(
            OverrideStanding(override, raises=tuple(raises), satisfied=tuple(satisfied), absent=tuple(absent))
        )
    return tuple(standings)


def format_standings(standings: Sequence[OverrideStanding]) -> list[str]:
    if not standings:
        return ["no security overrides"]
    lines = []
    for s in standings:
        notes = "; ".join([f"{name} pins {pinned}" for name, pinned in s.satisfied]
                          + [f"{name} pins none" for name in s.absent])
        lines.append({
            "keep": f"keep    {s.override}: raises the pin of every lock in its scope ({len(s.raises)})",
            "narrow": f"narrow  {s.override}: raises {len(s.raises)} lock(s), but {notes}",
            "drop": f"drop    {s.override}: no lock in its scope needs it ({notes})",
            "skip": f"skip    {s.override}: no lock checked is in its scope",
        }[s.verdict])
    return lines


def standings_exit_code(standings: Iterable[OverrideStanding]) -> int:
    """0: nothing to do; 2: some override can be dropped, or must be narrowed before a build refuses it."""
    return 2 if any(s.verdict in ("drop", "narrow") for s in standings) else 0


def overrides_check(
    settings: ProjectSettings, *, airflow_version: str | None = None, overrides_file: Path | None = None
) -> tuple[OverrideStanding, ...]:
    """The committed overrides (or another file) against every committed lock, or one version's."""
    overrides = read_overrides(overrides_file or settings.root / OVERRIDES_FILE)
    constraints_dir = settings.constraints_dir
    locks = [
        (version, python, LockPins.from_text(str(path.relative_to(constraints_dir.parent)), path.read_text()))
        for version, python, path in committed_locks(constraints_dir, airflow_version=airflow_version)
    ]
    return check_overrides(overrides, locks)
