"""The one place that executes commands.

Everything else builds command lines as plain `list[str]` and hands them here, so a dry run
prints exactly what would run, and unit tests swap in a recording fake.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import CommandFailed


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    dry_run: bool
    echo: Callable[[str], None]

    def run(
        self,
        argv: Sequence[str],
        *,
        capture: bool = False,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        quiet: bool = False,
        read_only: bool = False,
    ) -> Result: ...


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SubprocessRunner:
    """Runs commands for real; output streams to the terminal unless captured."""

    dry_run: bool = False
    echo: Callable[[str], None] = field(default=_stderr)

    def run(
        self,
        argv: Sequence[str],
        *,
        capture: bool = False,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        quiet: bool = False,
        read_only: bool = False,
    ) -> Result:
        """Runs argv; `read_only` commands (inspect, list) run even in a dry run, since a plan needs them."""
        argv = [str(a) for a in argv]
        skip = self.dry_run and not read_only
        if not quiet or skip:
            self.echo(("(dry run) $ " if skip else "$ ") + shlex.join(argv))
        if skip:
            return Result(tuple(argv), 0)
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.run(
                argv,
                input=input,
                env=full_env,
                cwd=cwd,
                text=True,
                capture_output=capture,
                check=False,
            )
        except FileNotFoundError:
            raise CommandFailed(argv, 127, detail=f"{argv[0]} is not installed or not on PATH") from None
        result = Result(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr or "")
        if check:
            _raise_if_failed(result, captured=capture)
        return result


def _raise_if_failed(result: Result, *, captured: bool) -> None:
    # A captured command's last stderr line says why; streamed output is already on the screen.
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] if captured else []
        raise CommandFailed(list(result.argv), result.returncode, detail=last[0] if last else "")


class TranscriptRunner:
    """A SubprocessRunner that keeps each command and the output it would have streamed in a transcript,
    for work that runs beside other work: printed as one block when it ends, not interleaved. Output a
    caller captures is returned to it, as usual, and stays out of the transcript."""

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self._parts: list[str] = []
        self._inner = SubprocessRunner(dry_run=dry_run, echo=self._parts.append)

    @property
    def echo(self) -> Callable[[str], None]:
        return self._parts.append

    def run(self, argv: Sequence[str], *, capture: bool = False, check: bool = True, **options) -> Result:
        result = self._inner.run(argv, capture=True, check=False, **options)
        if not capture:
            self._parts.extend(text.rstrip("\n") for text in (result.stdout, result.stderr) if text.strip())
        if check:
            _raise_if_failed(result, captured=capture)
        return result if capture else Result(result.argv, result.returncode)

    def transcript(self) -> str:
        return "\n".join(self._parts)
