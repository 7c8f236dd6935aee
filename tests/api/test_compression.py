"""gzip for answers over 1 kB when asked; never for Binary content (ranges), small answers or
compressed media."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson

from fhir_server.api.compression import MINIMUM_SIZE
from tests.support import unique

ROOT = "http://testserver"
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
FHIR = {"Content-Type": "application/fhir+json"}


def raw_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same app, with the body left as it came (httpx would otherwise gunzip it)."""
    return httpx.AsyncClient(transport=client._transport, base_url=client.base_url, timeout=60)


async def stream(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    async with http.stream("GET", url, headers=headers) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


async def _patients(client: httpx.AsyncClient, family: str, count: int) -> None:
    for index in range(count):
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "name": [{"family": family, "given": [f"G{index}"]}],
        }
        assert (await client.post("/Patient", content=orjson.dumps(patient), headers=FHIR)).status_code == 201


async def test_search_bundle_is_gzipped_when_asked(client: httpx.AsyncClient) -> None:
    family = unique("Zip")
    await _patients(client, family, 12)
    async with raw_client(client) as http:
        zipped, body = await stream(http, f"/Patient?family={family}", GZIP)
        plain, identity = await stream(http, f"/Patient?family={family}", IDENTITY)
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert int(zipped.headers["content-length"]) == len(body) < len(identity) / 3
    assert "content-encoding" not in plain.headers
    unpacked = orjson.loads(gzip.decompress(body))
    assert unpacked["total"] == 12 and len(unpacked["entry"]) == 12
    assert orjson.loads(identity)["total"] == 12


async def test_small_answers_stay_plain(client: httpx.AsyncClient) -> None:
    async with raw_client(client) as http:
        response, body = await stream(http, "/Patient/does-not-exist", GZIP)
    assert response.status_code == 404 and len(body) < MINIMUM_SIZE
    assert "content-encoding" not in response.headers
    assert orjson.loads(body)["resourceType"] == "OperationOutcome"


async def test_binary_content_and_ranges_are_never_compressed(client: httpx.AsyncClient) -> None:
    text = ("a line of a clinical note that repeats\n" * 200).encode()
    created = await client.post("/Binary", content=text, headers={"Content-Type": "text/plain"})
    assert created.status_code == 201, created.text
    location = created.headers["location"].split("/fhir/", 1)[1].split("/_history")[0]
    async with raw_client(client) as http:
        whole, body = await stream(http, f"/{location}", GZIP)
        assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
        assert "content-encoding" not in whole.headers and body == text
        part, piece = await stream(http, f"/{location}", {**GZIP, "Range": "bytes=0-1999"})
        assert part.status_code == 206 and "content-encoding" not in part.headers
        assert piece == text[:2000]
        # its FHIR JSON form is an ordinary answer: compressed
        fhir_form, packed = await stream(http, f"/{location}", {**GZIP, "Accept": "application/fhir+json"})
        assert fhir_form.headers["content-encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(packed))["resourceType"] == "Binary"


async def test_documents_and_scripts_compressed_images_not(client: httpx.AsyncClient) -> None:
    async with raw_client(client) as http:
        document, _ = await stream(http, f"{ROOT}/openapi.json", GZIP)
        script, _ = await stream(http, f"{ROOT}/docs/assets/swagger-ui-bundle.js", GZIP)
        icon, body = await stream(http, f"{ROOT}/docs/assets/favicon.png", GZIP)
    assert document.headers["content-encoding"] == "gzip"
    assert script.headers["content-encoding"] == "gzip"
    assert icon.headers["content-type"] == "image/png" and len(body) > MINIMUM_SIZE
    assert "content-encoding" not in icon.headers
