"""The server's signing key: from ``settings.auth_signing_key``, else generated once on disk.

The generated key lives at ``<data_dir>/keys/signing-key.pem`` (mode 0600, directory 0700), published
atomically (link) so that two processes starting together end up with the same key. The server, every
worker and ``fhir-server dev-token`` load the same key, so a token one signs the others accept.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from joserfc.jwk import ECKey, KeySet, RSAKey

from fhir_server.settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE: Final = "signing-key.pem"
# Signing algorithm by key type and curve.
EC_ALGORITHMS: Final[dict[str, str]] = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHM: Final = "RS256"  # what OpenID Connect clients must all support

SigningKey = RSAKey | ECKey


@dataclass(frozen=True)
class ServerKey:
    key: SigningKey
    algorithm: str

    @property
    def kid(self) -> str:
        return self.key.kid or ""

    def public_jwks(self) -> dict[str, object]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "use": "sig", "alg": self.algorithm}]}

    def public_keyset(self) -> KeySet:
        return KeySet([self.key])


def key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / KEY_FILE


def load_server_key(settings: Settings) -> ServerKey:
    """The configured key, or the one under the data directory (generated on first call)."""
    pem = settings.auth_signing_key or _read_or_generate(key_path(settings))
    return server_key_from_pem(pem)


def ephemeral_server_key() -> ServerKey:
    """A fresh in-memory key (authorization disabled: nothing is written to disk)."""
    key = ECKey.generate_key("P-256")
    key.ensure_kid()
    return ServerKey(key, EC_ALGORITHMS["P-256"])


def server_key_from_pem(pem: str) -> ServerKey:
    if "EC PRIVATE KEY" in pem or _is_ec(pem):
        ec_key = ECKey.import_key(pem)
        ec_key.ensure_kid()
        return ServerKey(ec_key, EC_ALGORITHMS[ec_key.curve_name])
    rsa_key = RSAKey.import_key(pem)
    rsa_key.ensure_kid()
    return ServerKey(rsa_key, RSA_ALGORITHM)


def _is_ec(pem: str) -> bool:
    try:
        ECKey.import_key(pem)
    except Exception:
        return False
    return True


def _read_or_generate(path: Path) -> str:
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    pem = RSAKey.generate_key(2048).as_pem(private=True).decode()
    # Write a private temporary file, then link it into place: the key appears whole or not at all,
    # and of two racing processes exactly one wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text()
    finally:
        temporary.unlink()
    logger.info("generated a new token signing key under the data directory")
    return pem
