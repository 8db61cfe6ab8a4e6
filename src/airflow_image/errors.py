"""The one exception hierarchy of the package.

Every message is a single line that names the bad value and what would have been accepted,
so that the entry points can print it as it is and exit non-zero.
"""

from __future__ import annotations


class AirflowImageError(Exception):
    """Base of every error the package raises on purpose."""


class ConfigError(AirflowImageError):
    """pyproject.toml settings or the matrix file are missing or malformed."""


class UnknownVersion(AirflowImageError):
    def __init__(self, version: str, *, newest: str | None = None) -> None:
        hint = f" (newest stable: {newest}; run `invoke update-matrix` if it was released since)" if newest else ""
        super().__init__(f"apache-airflow {version!r} is not in the version matrix{hint}")
        self.version = version


class UnsupportedPython(AirflowImageError):
    def __init__(self, python: str, *, airflow_version: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            f"apache-airflow {airflow_version} does not support Python {python!r}; supported: {', '.join(supported)}"
        )
        self.python = python


class MissingLock(AirflowImageError):
    """No committed lock for a version/flavour pair."""


class InvalidBuildOption(AirflowImageError):
    """A build option (extras, variant, platform, constraints, ...) has a bad value."""


class BaseImageUnavailable(AirflowImageError):
    """No base image for a flavour exists locally and none can be pulled."""


class CommandFailed(AirflowImageError):
    def __init__(self, argv: list[str], returncode: int, *, detail: str = "") -> None:
        shown = " ".join(argv[:4]) + (" …" if len(argv) > 4 else "")
        extra = f": {detail}" if detail else ""
        super().__init__(f"`{shown}` failed with exit code {returncode}{extra}")
        self.argv = argv
        self.returncode = returncode


class MetadataError(AirflowImageError):
    """Package metadata could not be read from the index."""


class RegistryError(AirflowImageError):
    """A registry answered in a way a release cannot continue from."""


class RegistryUnreachable(RegistryError):
    """No answer from the registry (refused, timed out, DNS) after the retries."""


class RegistryAuthError(RegistryError):
    """Credentials are missing or the registry rejected them."""


class RegistryMismatch(RegistryError):
    """A tag read back from the registry does not point at what was just pushed."""


class ReleaseRefused(AirflowImageError):
    """A release that could not finish, refused before anything was built."""


class ImageTestsFailed(AirflowImageError):
    """A flavour's image tests failed; a release then pushes nothing."""


class InvalidComposeOption(AirflowImageError):
    """An `invoke compose` option (executor, port, image reference, output path) has a bad value."""


class DocsError(AirflowImageError):
    """The docs' sources disagree with the code (an undocumented Dockerfile ARG, an unknown generated section)."""


class BaseImagesUncheckable(AirflowImageError):
    """Some released image's base could not be checked (registry down, labels missing); nothing is rebuilt."""


class SbomError(AirflowImageError):
    """An image's SBOM could not be generated or does not validate against the CycloneDX schema."""


class SigningError(AirflowImageError):
    """Signing or attesting a pushed image failed, or the key cannot be opened."""


class VerificationFailed(AirflowImageError):
    """An image's signature, attestations or provenance did not check out; one line per failure."""
