"""The web pages (`sluicegate.web`): `/` the shop assistant chat, `/generate` structured
generation, `/admin` the operator's view (its data needs the admin key, which the page asks for).
Plain files shipped in the package, served as they are; a strict content security policy lets
them load nothing but themselves."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(str(resources.files("sluicegate.web").joinpath("static")))
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)
static = StaticFiles(directory=STATIC)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])
async def chat_page() -> FileResponse:
    return _page("index.html")


@router.api_route("/generate", methods=["GET", "HEAD"])
async def generate_page() -> FileResponse:
    return _page("generate.html")


@router.api_route("/admin", methods=["GET", "HEAD"])
async def admin_page() -> FileResponse:
    return _page("admin.html")
