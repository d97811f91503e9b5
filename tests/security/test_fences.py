"""Import fences: the project's contract holds, and a violating import breaks it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_core_imports_no_sdk_or_driver() -> None:
    result = subprocess.run([str(LINT_IMPORTS)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert "broken" in result.stdout
    assert "0 broken" in result.stdout


def test_a_violating_import_fails(tmp_path: Path) -> None:
    package = tmp_path / "fenced"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "logic.py").write_text("import httpx\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = fenced\ninclude_external_packages = True\n\n"
        "[importlinter:contract:core]\nname = core stays pure\ntype = forbidden\n"
        "source_modules = fenced.core\nforbidden_modules = httpx\n"
    )
    result = subprocess.run(
        [str(LINT_IMPORTS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "fenced.core.logic -> httpx" in result.stdout
