"""Checks the build arguments that are otherwise only used after the long install, in seconds.

Runs in the Dockerfile's `inputs` stage, with the base image's own Python and nothing installed,
in parallel with the build stage: a bad value stops the whole build before the long install has got
anywhere. Reads the build arguments from the environment (a RUN step sees its stage's ARGs there):

  ADDITIONAL_PYTHON_DEPS   space-separated PEP 508 requirements; written one per line to
                           OUT_DIR/requirements.txt, which the `additional` stage installs
  AIRFLOW_BYTECODE         startup | all | none

    python check_inputs.py OUT_DIR
Exit 0, or 1 with one line per bad value on stderr, each naming it and what would be accepted.
The build tooling (src/airflow_image/params.py) refuses the same values with the same words.
"""

from __future__ import annotations

import os
import re
import sys

BYTECODE_MODES = ("startup", "all", "none")
ACCEPTED = "expected PEP 508 requirements separated by spaces, e.g. name, name==1.2, name[extra]>=1,<2, name@URL"

# The PEP 508 grammar without whitespace inside a requirement (the value is split on spaces), for a
# base whose Python has no pip to lend its vendored `packaging`.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:~=|===|==|!=|<=|>=|<|>)[A-Za-z0-9_.*+!-]+"
_SPECS = rf"{_SPEC}(?:,{_SPEC})*"
_MARKER_ATOM = r"(?:[a-z_]+|'[^']*'|\"[^\"]*\")"
_MARKER_OP = r"(?:===|==|!=|<=|>=|~=|<|>|\bnot\s+in\b|\bin\b)"
_REQUIREMENT = re.compile(
    rf"(?P<name>{_NAME})"
    rf"(?:\[(?:{_NAME}(?:,{_NAME})*)?\])?"
    rf"(?:@(?P<url>[a-z][a-z0-9+.-]*://\S+)|\({_SPECS}\)|{_SPECS})?"
    rf"(?:;(?P<marker>\(*{_MARKER_ATOM}{_MARKER_OP}{_MARKER_ATOM}\)*"
    rf"(?:(?:and|or)\(*{_MARKER_ATOM}{_MARKER_OP}{_MARKER_ATOM}\)*)*))?"
)


def packaging_requirements():
    """packaging's `requirements` module: pip's vendored copy (what a base image has), else an
    installed packaging, else None."""
    try:
        from pip._vendor.packaging import requirements
    except ImportError:
        try:
            from packaging import requirements
        except ImportError:
            return None
    return requirements


def _packaging_reason(value: str, requirements) -> str | None:
    try:
        requirements.Requirement(value)
    except requirements.InvalidRequirement as exc:
        return (str(exc).strip().splitlines() or ["invalid"])[0]
    return None


def _pattern_reason(value: str) -> str | None:
    if _REQUIREMENT.fullmatch(value):
        return None
    if not re.match(_NAME, value):
        return "it does not start with a package name"
    return "it is not name[extras] followed by version specifiers, @URL or ;markers"


def requirement_error(value: str, *, use_packaging: bool = True) -> str | None:
    """None for a valid requirement, else the one line that refuses it."""
    requirements = packaging_requirements() if use_packaging else None
    reason = _packaging_reason(value, requirements) if requirements else _pattern_reason(value)
    if reason is None:
        return None
    return f"ADDITIONAL_PYTHON_DEPS entry {value!r} is not a valid requirement ({reason}); {ACCEPTED}"


def bytecode_error(mode: str) -> str | None:
    if mode in BYTECODE_MODES:
        return None
    return f"AIRFLOW_BYTECODE={mode!r} is not one of: {', '.join(BYTECODE_MODES)}"


def main(out_dir: str, environ: dict[str, str], *, use_packaging: bool = True) -> int:
    requirements = environ.get("ADDITIONAL_PYTHON_DEPS", "").split()
    errors = [e for e in (requirement_error(r, use_packaging=use_packaging) for r in requirements) if e]
    errors += [e for e in (bytecode_error(environ.get("AIRFLOW_BYTECODE") or "startup"),) if e]
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    if errors:
        return 1
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "requirements.txt"), "w") as out:
        out.writelines(f"{r}\n" for r in requirements)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], dict(os.environ)))
