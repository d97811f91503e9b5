"""Trust signals from external checkers, run only from an allowlist (seed 003 ADR-0015).

A checker is an absolute path on the allowlist in the configuration; it runs with no shell
(arguments are passed literally, metacharacters and all), a scrubbed environment, a temporary
working directory holding the artifact, and a timeout. Its verdict is a typed outcome:
`Passed`, `Failed(reasons)` or `Unavailable(reason)` — a checker that cannot run is never
mistaken for a pass.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sluicegate.errors import NotAllowed

SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Passed:
    kind: Literal["passed"] = "passed"

    @property
    def passed(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Failed:
    reasons: tuple[str, ...]
    kind: Literal["failed"] = "failed"

    @property
    def passed(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Unavailable:
    reason: str
    kind: Literal["unavailable"] = "unavailable"

    @property
    def passed(self) -> bool:
        return False


TrustOutcome = Passed | Failed | Unavailable


class TrustSignal(Protocol):
    name: str

    async def check(self, artifact: str) -> TrustOutcome: ...


@dataclass(frozen=True)
class CommandSignal:
    """A checker run as `binary *args FILE`, FILE being the artifact written to a temporary folder.
    Exit 0 passes; any other exit fails with the checker's output as the reasons."""

    name: str
    binary: str
    args: tuple[str, ...]
    allowlist: frozenset[str]
    filename: str = "artifact.txt"
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not os.path.isabs(self.binary):
            raise NotAllowed(f"{self.name}: checkers are named by absolute path, not '{self.binary}'")
        if self.binary not in self.allowlist:
            raise NotAllowed(f"{self.name}: {self.binary} is not on the checker allowlist")

    async def check(self, artifact: str) -> TrustOutcome:
        if not os.access(self.binary, os.X_OK):
            return Unavailable(f"{self.binary} is not installed here")
        with tempfile.TemporaryDirectory(prefix="sluicegate-trust-") as workdir:
            target = Path(workdir) / self.filename
            target.write_text(artifact, encoding="utf-8")
            try:
                process = await asyncio.create_subprocess_exec(
                    self.binary,
                    *self.args,
                    str(target),
                    cwd=workdir,
                    env=dict(SAFE_ENV),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
            except OSError as exc:
                return Unavailable(f"{self.binary} could not start ({type(exc).__name__})")
            try:
                async with asyncio.timeout(self.timeout_s):
                    output, _ = await process.communicate()
            except TimeoutError:
                process.kill()
                await process.wait()
                return Unavailable(f"{self.name} timed out after {self.timeout_s:g} s")
        if process.returncode == 0:
            return Passed()
        text = output.decode("utf-8", "replace").replace(workdir, ".")[:MAX_REASON_CHARS]
        return Failed(
            tuple(line for line in text.splitlines() if line.strip()) or (f"exit {process.returncode}",)
        )


async def all_pass(signals: Sequence[TrustSignal], artifact: str) -> tuple[bool, list[TrustOutcome]]:
    """`trust.passed`: every signal passed (an unavailable checker is not a pass)."""
    outcomes = list(await asyncio.gather(*(signal.check(artifact) for signal in signals)))
    return all(outcome.passed for outcome in outcomes), outcomes


def python_compiles(allowlist: frozenset[str], python: str = "/usr/bin/python3") -> CommandSignal:
    return CommandSignal("python.compiles", python, ("-m", "py_compile"), allowlist, filename="artifact.py")


def ruff_check(allowlist: frozenset[str], ruff: str) -> CommandSignal:
    return CommandSignal(
        "python.ruff", ruff, ("check", "--no-cache", "--quiet"), allowlist, filename="artifact.py"
    )


def typescript_check(allowlist: frozenset[str], tsc: str) -> CommandSignal:
    return CommandSignal(
        "typecheck.typescript", tsc, ("--noEmit", "--strict"), allowlist, filename="artifact.ts"
    )
