"""A gateway in its own process (`sluicegate serve`), for tests and benchmarks that need a real
one: several instances, logs on stderr, signals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from sluicegate.testing.threads import free_port


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


class GatewayProcess:
    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.config_path = workdir / f"sluicegate-{self.port}.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEGATE")}
        environment.update(env or {})
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sluicegate.cli.main",
                "serve",
                "--config",
                str(self.config_path),
                "--port",
                str(self.port),
                *args,
            ],
            cwd=workdir,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_ready(self.url)
        except RuntimeError:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> tuple[str, str]:
        """Stop it (SIGTERM) and return what it printed: (stdout, stderr)."""
        self.process.terminate()
        try:
            return self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()

    def kill(self) -> None:
        """Die at once, as a crashed instance does."""
        self.process.kill()
        self.process.communicate()
