"""The application as uvicorn's worker processes build it: each worker loads the configuration
named by $SLUICEGATE_CONFIG (set by `sluicegate serve`) and builds its own runtime; they share
state through the configured backend."""

from __future__ import annotations

from fastapi import FastAPI

from sluicegate.config import load_config
from sluicegate.logs import configure_logging
from sluicegate.runtime import build_runtime
from sluicegate.server.app import create_app
from sluicegate.server.http_protocol import uvicorn_options


def app_from_environment() -> FastAPI:
    config = load_config()
    configure_logging(config.server.log_level)
    uvicorn_options(config.server)  # this process's header deadline
    return create_app(build_runtime(config), settle_gc=True)
