"""The peers compare.py measures sluicegate against, each installed by the script into
benchmarks/.cache and never a dependency of ours: LiteLLM's proxy (a virtualenv of its own) and
Portkey's open-source gateway (npm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from gateway_measures import Server, wait_for

from sluicegate.testing.threads import free_port

LITELLM_VERSION = "1.106.2"
LITELLM_VENV = Path(__file__).parent / ".cache" / "litellm-venv"
PORTKEY_VERSION = "1.15.2"
PORTKEY_DIR = Path(__file__).parent / ".cache" / "portkey"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"


def ensure_litellm() -> Path:
    """LiteLLM in a virtualenv of its own: the comparison must not make it our dependency."""
    binary = LITELLM_VENV / "bin" / "litellm"
    python = LITELLM_VENV / "bin" / "python"
    if binary.exists():
        version = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version == LITELLM_VERSION:
            return binary
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(LITELLM_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"], check=True
    )
    return binary


def start_litellm(binary: Path, upstream: str, workdir: Path) -> tuple[Server, str]:
    config = {
        "model_list": [
            {
                "model_name": "m",
                "litellm_params": {
                    "model": "openai/m",
                    "api_base": upstream + "/v1",
                    "api_key": "sk-upstream",
                },
            }
        ],
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }
    path = workdir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # offline: no cost map from the network
        MASTER_KEY_ENV: os.environ.get(MASTER_KEY_ENV, "sk-bench-master"),
        "LITELLM_LOG": "ERROR",
    }
    server = Server(
        [
            str(binary),
            "--config",
            str(path),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--num_workers",
            "1",
        ],
        env=env,
        cwd=workdir,
        log=workdir / "litellm.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/health/liveliness", server, timeout=180)
    return server, url


def ensure_portkey() -> Path:
    """Portkey's gateway from npm, in a folder of its own: a peer, never our dependency."""
    package = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway"
    manifest = package / "package.json"
    if not manifest.exists() or json.loads(manifest.read_text())["version"] != PORTKEY_VERSION:
        print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR}", flush=True)
        PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@portkey-ai/gateway@{PORTKEY_VERSION}",
            ],
            cwd=PORTKEY_DIR,
            check=True,
        )
    return package / "build" / "start-server.js"


def start_portkey(script: Path, upstream: str, workdir: Path) -> tuple[Server, str, dict[str, str]]:
    port = free_port()
    server = Server(
        ["node", str(script), f"--port={port}", "--headless"],
        env={"NODE_ENV": "production"},
        cwd=workdir,
        log=workdir / "portkey.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/v1/models", server, ok=(200, 400, 401, 404, 500))
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream + "/v1",
        "authorization": "Bearer sk-upstream",
    }
    return server, url, headers
