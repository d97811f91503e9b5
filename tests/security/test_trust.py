"""Trust signals: only allowlisted checkers, no shell, a scrubbed environment, a timeout, and
typed outcomes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sluicegate.errors import NotAllowed
from sluicegate.security.trust import CommandSignal, Failed, Passed, Unavailable, all_pass, python_compiles

PYTHON = os.path.realpath(sys.executable)
ALLOWED = frozenset({PYTHON})


async def test_python_compiles_passes_and_fails() -> None:
    signal = python_compiles(ALLOWED, PYTHON)
    assert await signal.check("x = 1\n") == Passed()
    outcome = await signal.check("def broken(:\n")
    assert isinstance(outcome, Failed)
    assert any("SyntaxError" in reason for reason in outcome.reasons)


def test_checkers_outside_the_allowlist_are_refused() -> None:
    with pytest.raises(NotAllowed, match="not on the checker allowlist"):
        CommandSignal("rm", "/bin/rm", ("-rf",), ALLOWED)
    with pytest.raises(NotAllowed, match="absolute path"):
        CommandSignal("py", "python3", (), frozenset({"python3"}))


async def test_shell_metacharacters_are_passed_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = (f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", "| cat /etc/passwd")
    script = "import sys; print(repr(sys.argv[1:-1])); sys.exit(3)"
    signal = CommandSignal("argv", PYTHON, ("-c", script, *hostile), ALLOWED)
    outcome = await signal.check("artifact")
    assert isinstance(outcome, Failed)
    assert eval(outcome.reasons[0]) == list(hostile)
    assert not marker.exists()


async def test_the_environment_is_scrubbed_and_the_cwd_is_temporary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICEGATE_TEST_SECRET", "do-not-leak")
    script = "import os, sys; print(sorted(os.environ)); print(os.getcwd()); sys.exit(1)"
    outcome = await CommandSignal("env", PYTHON, ("-c", script), ALLOWED).check("x")
    assert isinstance(outcome, Failed)
    assert "SLUICEGATE_TEST_SECRET" not in outcome.reasons[0]
    assert outcome.reasons[1] == "."  # the temporary folder, its path hidden from the reasons


async def test_a_hanging_checker_is_unavailable_not_passed() -> None:
    signal = CommandSignal("sleepy", PYTHON, ("-c", "import time; time.sleep(30)"), ALLOWED, timeout_s=0.3)
    outcome = await signal.check("x")
    assert isinstance(outcome, Unavailable)
    assert "timed out" in outcome.reason


async def test_a_missing_checker_is_unavailable() -> None:
    missing = "/usr/bin/no-such-checker"
    outcome = await CommandSignal("none", missing, (), frozenset({missing})).check("x")
    assert isinstance(outcome, Unavailable)


async def test_trust_passed_needs_every_signal() -> None:
    compiles = python_compiles(ALLOWED, PYTHON)
    missing = CommandSignal("none", "/usr/bin/no-such-checker", (), frozenset({"/usr/bin/no-such-checker"}))
    assert (await all_pass([compiles], "x = 1\n"))[0]
    passed, outcomes = await all_pass([compiles, missing], "x = 1\n")
    assert not passed
    assert [o.kind for o in outcomes] == ["passed", "unavailable"]
