"""The trust store for outbound HTTPS (external issuers' JWKS, subscription deliveries).

Loading the CA bundle costs about 0.1 s of CPU; every outbound client shares one context instead
of loading its own (an app builds several clients, and tests build many apps).
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certificates and host names checked), made once per process."""
    return httpx.create_ssl_context()
