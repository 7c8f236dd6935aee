"""Run in a subprocess by test_sentry: a real Sentry SDK reporting to a local HTTP receiver.

Sentry's setup is process-global (it patches Starlette), so it runs here, not in the test process.
Prints one JSON object: the request id the app answered with and every envelope received.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sentry_sdk
from fastapi import FastAPI, Request

from fhir_server.observability import install_observability
from fhir_server.settings import Settings

PHI_NAME = "Zyxwvutsrqpo"
PHI_IDENTIFIER = "MRN-86753091"
PHI_QUERY_VALUE = "Qwertyuiopas"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRpZW50In0.c2lnbmF0dXJlLXNlY3JldA"

received: list[str] = []


class EnvelopeReceiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        received.append(body.decode("utf-8", errors="replace"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def build_app(dsn: str) -> FastAPI:
    app = FastAPI()

    @app.post("/fhir/{type}/{id}/$explode")
    async def explode(type: str, id: str, request: Request) -> None:
        body = await request.json()
        identifier = body["identifier"][0]["value"]
        request.state.interaction = "operation"
        raise RuntimeError(f"E11000 duplicate key: identifier {identifier} name {PHI_NAME}")

    install_observability(app, Settings(sentry_dsn=dsn, sentry_environment="test", otel_endpoint=None))
    return app


async def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnvelopeReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app = build_app(f"http://publickey@127.0.0.1:{server.server_address[1]}/1")
    body = {
        "resourceType": "Patient",
        "name": [{"family": PHI_NAME}],
        "identifier": [{"value": PHI_IDENTIFIER}],
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            f"/fhir/Patient/{PHI_IDENTIFIER}/$explode",
            params={"name": PHI_QUERY_VALUE},
            json=body,
            headers={"Authorization": f"Bearer {BEARER_TOKEN}", "Cookie": f"sid={BEARER_TOKEN}"},
        )
    sentry_sdk.flush(timeout=10)
    server.shutdown()
    print(
        json.dumps(
            {
                "status": response.status_code,
                "request_id": response.headers.get("x-request-id"),
                "envelopes": received,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
