"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with every asset served by this server.

FastAPI's own pages load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs: on a clinic's
closed network they stay blank. Here the pages are FastAPI's (``get_swagger_ui_html``,
``get_redoc_html``) pointed at assets under ``/docs/assets/``, read from the installed
``fastapi-standalone-docs`` package, which ships the Swagger UI and ReDoc bundles with their licences
(also served there). Only its static files are used, never its code (it patches FastAPI globally).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import cache
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

DOCS_PATH: Final = "/docs"
REDOC_PATH: Final = "/redoc"
ASSETS_PATH: Final = f"{DOCS_PATH}/assets"
OAUTH2_REDIRECT_PATH: Final = f"{DOCS_PATH}/oauth2-redirect"
_PACKAGE: Final = "fastapi_standalone_docs"
# The assets by the name they are served under: (file in the package's static folder, media type).
ASSETS: Final[dict[str, tuple[str, str]]] = {
    "swagger-ui-bundle.js": ("swagger/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger/swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-LICENSE.txt": ("swagger/LICENSE", "text/plain; charset=utf-8"),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
    "redoc-LICENSE.txt": ("redoc/redoc.standalone.js.LICENSE.txt", "text/plain; charset=utf-8"),
    "favicon.png": ("fastapi/favicon.png", "image/png"),
    "favicon-LICENSE.txt": ("fastapi/LICENSE", "text/plain; charset=utf-8"),
}
# Swagger UI asks validator.swagger.io to check the document unless told not to.
SWAGGER_PARAMETERS: Final = {"validatorUrl": None, "docExpansion": "none", "filter": True}


@dataclass(frozen=True)
class Asset:
    content: bytes
    media_type: str
    etag: str


@cache
def load_asset(name: str) -> Asset:
    """One packaged asset, read once per process."""
    relative, media_type = ASSETS[name]
    content = importlib.resources.files(_PACKAGE).joinpath("static", *relative.split("/")).read_bytes()
    # weak: the same asset goes out gzipped or not, and a strong tag would promise identical bytes
    return Asset(content, media_type, f'W/"{hashlib.sha256(content).hexdigest()[:20]}"')


def _asset_url(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}"


def _openapi_url(request: Request, app: FastAPI) -> str:
    return f"{request.scope.get('root_path', '')}{app.openapi_url}"


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets (create the app with ``docs_url=None`` and
    ``redoc_url=None`` so FastAPI's CDN-loading pages are not there as well)."""

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=_openapi_url(request, app),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset_url(request, "swagger-ui-bundle.js"),
            swagger_css_url=_asset_url(request, "swagger-ui.css"),
            swagger_favicon_url=_asset_url(request, "favicon.png"),
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=_openapi_url(request, app),
            title=f"{app.title} - ReDoc",
            redoc_js_url=_asset_url(request, "redoc.standalone.js"),
            redoc_favicon_url=_asset_url(request, "favicon.png"),
            with_google_fonts=False,
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def asset(name: str, request: Request) -> Response:
        if name not in ASSETS:
            return Response(status_code=404)
        found = load_asset(name)
        headers = {"ETag": found.etag, "Cache-Control": "public, max-age=86400"}
        if found.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        return Response(found.content, media_type=found.media_type, headers=headers)

    for path, endpoint in (
        (DOCS_PATH, swagger_ui),
        (REDOC_PATH, redoc),
        (OAUTH2_REDIRECT_PATH, oauth2_redirect),
        (ASSETS_PATH + "/{name}", asset),
    ):
        app.add_api_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
