"""Swagger UI and ReDoc work on a closed network: every asset the pages load comes from the server."""

from __future__ import annotations

import re

import httpx
import pytest

from fhir_server.api.docs import ASSETS

ROOT = "http://testserver"
# Attributes through which a page loads something (scripts, styles, icons, fonts).
LOADED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_pages_load_nothing_from_elsewhere(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(f"{ROOT}{page}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "//" not in html.replace("http://www.w3.org", "")  # no host at all: no CDN, no Google Fonts
    loaded = LOADED.findall(html)
    assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
    for url in [*loaded, "/openapi.json"]:
        asset = await client.get(f"{ROOT}{url}")
        assert asset.status_code == 200, url
    assert "/openapi.json" in html


async def test_swagger_ui_is_told_not_to_call_the_online_validator(client: httpx.AsyncClient) -> None:
    html = (await client.get(f"{ROOT}/docs")).text
    assert '"validatorUrl": null' in html
    assert "swagger-ui-bundle.js" in html and "swagger-ui.css" in html


async def test_assets_and_their_licences(client: httpx.AsyncClient) -> None:
    bundle = await client.get(f"{ROOT}/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000 and b"SwaggerUIBundle" in bundle.content
    redoc = await client.get(f"{ROOT}/docs/assets/redoc.standalone.js")
    assert len(redoc.content) > 500_000
    for licence in ("swagger-ui-LICENSE.txt", "redoc-LICENSE.txt", "favicon-LICENSE.txt"):
        text = (await client.get(f"{ROOT}/docs/assets/{licence}")).text
        assert "License" in text or "LICENSE" in text or "license" in text
    assert set(ASSETS) >= {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}


async def test_assets_are_cached_and_revalidated(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{ROOT}/docs/assets/swagger-ui.css")
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = await client.get(f"{ROOT}/docs/assets/swagger-ui.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_unknown_assets_and_paths_are_not_served(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{ROOT}/docs/assets/..%2Fstandalone_docs.py")).status_code == 404
    assert (await client.get(f"{ROOT}/docs/assets/standalone_docs.py")).status_code == 404


async def test_oauth2_redirect_page(client: httpx.AsyncClient) -> None:
    page = await client.get(f"{ROOT}/docs/oauth2-redirect")
    assert page.status_code == 200 and "swaggerUIRedirectOauth2" in page.text
    assert "//" not in page.text.replace("http://www.w3.org", "")
